# watch until all jobs finished or $1 seconds passed
source $W/bin/common.sh 2>/dev/null || source /tmp/gk/bin/common.sh
end=$(( $(date +%s) + $1 ))
while [ ! -e $W/all.done ] && [ $(date +%s) -lt $end ]; do sleep 20; done
stamp "status"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
for f in $W/logs/*.log; do echo "== $(basename $f): $(tail -n 1 $f | cut -c1-200)"; done
ls $W/norm_*/runs/*/study_result.json 2>/dev/null | wc -l
