# seed 002 study on Fashion-MNIST (4 processes) and emoji (2 processes); finished runs are saved per run
source $W/bin/common.sh; cd $W/src
waitfor $W/inception.ok 600 && waitfor $W/fm.ok 600 || { stamp "no inception/fm"; exit 1; }
stamp "norm start"
for v in baseline sn adain sn+adain; do
  timeout -s INT $(lim 1080) $G study norm --data fashion_mnist --epochs ${FM_EPOCHS:-5,10,20} --seeds 2 --variants $v \
    --out $W/norm_fm train.device=$DEV train.progress=false $TINY_NM > $W/logs/norm_fm_$v.log 2>&1 &
done
for vs in baseline,sn adain,sn+adain; do
  timeout -s INT $(lim 1080) $G study norm --data emoji --root $E --epochs ${EM_EPOCHS:-100,200,400} --seeds 2 --n-ref 816 \
    --variants $vs --out $W/norm_emoji train.device=$DEV train.progress=false $TINY_NM > $W/logs/norm_emoji_$vs.log 2>&1 &
done
wait
stamp "norm done"; ls $W/norm_*/runs/*/study_result.json
