# call 1: install, copy inputs out of the repo copy, speed benchmarks alone, launch the jobs
set -x
source .carry/scripts/common.sh
mkdir -p $W/logs $W/out $W/src/data
[ "$DEV" = cuda ] && [ -d .whl ] && $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
cp -r gankit benchmarks $W/src/ && cp -r data/emoji64 $W/src/data/ && cp -r .carry/scripts $W/bin
cp .carry/w1/p1 $W/p1
set +x
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>&1
$PY -c "import torch, optuna; print('torch', torch.__version__, 'optuna', optuna.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
cd $W/src
if [ "$DEV" = cuda ]; then
  $PY benchmarks/stargan_vs_acl.py --json $W/out/bench_stargan_acl.json 2>&1 | tail -12
  $PY benchmarks/stargan_vs_acl.py --bf16 --json $W/out/bench_stargan_acl_bf16.json 2>&1 | tail -6
  $PY benchmarks/style_speed.py --json $W/out/bench_style.json 2>&1 | tail -8
else
  $PY benchmarks/stargan_vs_acl.py --cpu-small --json $W/out/bench_stargan_acl.json 2>&1 | tail -4
fi
date +%s > $W/t0
setsid nohup bash $W/bin/jobs.sh > $W/logs/jobs.log 2>&1 < /dev/null &
sleep $(sec 25); tail -n 3 $W/logs/*.log
