# style generator on emoji 64 for 660 s, then the aging story on it
source $W/bin/common.sh; cd $W/src
stamp "train style"
timeout -s INT $(sec 660) $G train style_emoji64 --out $W/style --steps 1000000 data.root=$E train.sample_every=1000 \
  train.ckpt_every=2000 train.progress=false train.device=$DEV $TINY_ST
stamp "trained style rc=$?"; tail -n 1 $W/style/metrics.jsonl
waitfor $W/inception.ok 900 || { stamp "no inception"; exit 1; }
$PY benchmarks/aging_story.py --ckpt $W/style --data $E --out $W/aging --device $DEV --steps ${AGE_STEPS:-500} \
  --k ${AGE_K:-4} --no-progress
stamp "aging done"
