# one attribute editor for 630 s (equal wall time, side by side), then scores and a grid
source $W/bin/common.sh; cd $W/src
m=$1
case $m in stargan) P=stargan_emoji; X=;; aclgan) P=aclgan_emoji; X=;; aclpos) P=aclgan_emoji; X=model.discriminator.polarity=positive;; esac
stamp "train $m"
timeout -s INT $(sec 630) $G train $P --out $W/ed/$m --steps 1000000 data.root=$E optim.lr_decay_start=1000000 \
  train.sample_every=1000 train.ckpt_every=2000 train.progress=false train.device=$DEV $X $TINY_ED
stamp "trained $m rc=$?"; tail -n 1 $W/ed/$m/metrics.jsonl
waitfor $W/cls.done 900 && waitfor $W/inception.ok 900 || { stamp "no classifier/inception"; exit 1; }
$G score $W/ed/$m --classifier $W/cls --fid --device $DEV --json $W/out/score_$m.json $SCORE_X | tail -n 25
[ $m = stargan ] && $PY $W/bin/fid_ref.py > $W/out/fid_ref.json
I=$E/images
$G translate $W/ed/$m --grid --images $I/1f9d1.png $I/1f468_1f3fb_1f373.png $I/1f469_1f3fd_1f52c.png $I/1f468_1f3ff_1f680.png \
   $I/1f469_1f680.png $I/1f9d1_1f3fe_1f373.png --out $W/out/grid_$m.png --device $DEV
stamp "done $m"
