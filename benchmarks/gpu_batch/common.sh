# sourced by every GPU script. W: work dir outside the repo copy; SC: time scale in percent (100 on the GPU)
W=${W:-/tmp/gk}; SC=${SC:-100}; DEV=${DEV:-cuda}; PY=${PY:-python3}
export W SC DEV PY
export PYTHONPATH=$W/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export GANKIT_INCEPTION=$W/inception.pt GANKIT_FASHION_MNIST=$W/fm OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
G="$PY -m gankit.cli.main"
E=data/emoji64
T0=$(cat $W/t0 2>/dev/null || date +%s)
sec() { echo $(( $1 * SC / 100 )); }                       # scaled seconds
left() { echo $(( T0 + $(sec $1) - $(date +%s) )); }       # seconds until T0 + scaled $1
lim() { local l; l=$(left $1); [ "$l" -lt 1 ] && l=1; echo $l; }  # a timeout that is never 0 (= none)
waitfor() { while [ ! -e "$1" ] && [ "$(left $2)" -gt 0 ]; do sleep 3; done; [ -e "$1" ]; }
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
