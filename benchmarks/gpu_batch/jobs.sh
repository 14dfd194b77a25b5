# background: every experiment, each bounded by its own deadline (seconds after T0, scaled)
source $W/bin/common.sh 2>/dev/null || source /tmp/gk/bin/common.sh
cd $W/src
stamp jobs start
( $G classifier train --data emoji --root $E --attrs Tone_1,Tone_3,Tone_5,Male,Female --resolution 64 \
    --steps ${CLS_STEPS:-3000} --out $W/cls --device $DEV > $W/logs/cls.log 2>&1; touch $W/cls.done ) &
for m in stargan aclgan aclpos; do bash $W/bin/editor.sh $m > $W/logs/ed_$m.log 2>&1 & done
bash $W/bin/style.sh > $W/logs/style.log 2>&1 &
for m in stargan aclgan; do bash $W/bin/sweep.sh $m > $W/logs/sweep_$m.log 2>&1 & done
bash $W/bin/norm.sh > $W/logs/norm.log 2>&1 &
wait
stamp jobs done
touch $W/all.done
