#!/usr/bin/env bash
# perf/pubsub.sh — weir vs NATS, publish/subscribe, side by side on this machine.
#
# Installs nats-server and the nats CLI into perf/.bin (ignored by git) if missing, starts nats-server on
# 127.0.0.1 on a random port (stopped on exit), builds weir-bench, then runs every point RUNS times,
# alternating weir and NATS, and prints the medians:
#   direct  weir pub → sub                      (NATS has no brokerless equivalent: weir only)
#   relay   weir pub → relay → sub              vs NATS pub → server → sub
#   fanout  weir pub → relay → 4 subs           vs NATS pub → server → 4 subs (aggregate delivery rate)
# at 64 B and 1 KiB, and latency percentiles at a fixed rate (weir-bench's timestamps vs `nats latency`).
#
# Environment: RUNS (3), MSGS (2000000), MSGS_1K (1000000), SUBS (4), LAT_RATE (100000 msgs/s),
# LAT_SECS (5), NATS_WAIT (60: seconds a NATS subscriber may lag its publisher before the run counts as
# failed), OUT (perf/scratch/pubsub-DATE). Needs go, jq and curl.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/perf/.bin
RUNS=${RUNS:-3}
MSGS=${MSGS:-2000000}
MSGS_1K=${MSGS_1K:-1000000}
SUBS=${SUBS:-4}
LAT_RATE=${LAT_RATE:-100000}
LAT_SECS=${LAT_SECS:-5}
NATS_WAIT=${NATS_WAIT:-60}
OUT=${OUT:-$ROOT/perf/scratch/pubsub-$(date -u +%Y%m%dT%H%M%SZ)}
SUBJECT=weirbench
mkdir -p "$BIN" "$OUT"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in go jq curl; do
	command -v "$tool" >/dev/null || die "$tool is required (apt-get install -y $tool)"
done
if [[ ! -x $BIN/nats-server ]]; then
	log "installing nats-server into $BIN"
	GOBIN=$BIN go install github.com/nats-io/nats-server/v2@v2.15.2
fi
if [[ ! -x $BIN/nats ]]; then
	log "installing the nats CLI into $BIN"
	GOBIN=$BIN go install github.com/nats-io/natscli/nats@v0.5.0
fi
log "building weir-bench"
go build -o "$BIN/weir-bench" ./cmd/bench

# nats-server on random ports; it writes them to a ports file.
NATS_PID=""
cleanup() {
	if [[ -n $NATS_PID ]]; then
		kill "$NATS_PID" 2>/dev/null || true
		wait "$NATS_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
PORTS_DIR=$OUT/nats-ports
mkdir -p "$PORTS_DIR"
"$BIN/nats-server" -a 127.0.0.1 -p -1 -m -1 --ports_file_dir "$PORTS_DIR" >"$OUT/nats-server.log" 2>&1 &
NATS_PID=$!
for _ in $(seq 100); do
	[[ -f $PORTS_DIR/nats-server_$NATS_PID.ports ]] && break
	sleep 0.1
done
PORTS=$PORTS_DIR/nats-server_$NATS_PID.ports
[[ -f $PORTS ]] || die "nats-server did not start (see $OUT/nats-server.log)"
NATS_URL=$(jq -r '.nats[0]' "$PORTS")
MON_URL=$(jq -r '.monitoring[0]' "$PORTS")
log "nats-server at $NATS_URL (monitoring $MON_URL)"

# nats_subs prints how many subscriptions on $SUBJECT the server has.
nats_subs() {
	curl -fsS "$MON_URL/connz?subs=1" | jq --arg s "$SUBJECT" '[.connections[]?.subscriptions_list[]? | select(. == $s)] | length'
}

# weir_run SCENARIO SIZE MSGS SUBS → aggregate msgs/s at the subscribers (JSON kept in $OUT).
weir_run() {
	local sc=$1 size=$2 msgs=$3 subs=$4 tag=$5
	local f=$OUT/weir-$sc-$size-$tag.json
	"$BIN/weir-bench" pubsub --scenario "$sc" --size "$size" --msgs "$msgs" --subs "$subs" --json --timeout 3m >"$f" ||
		log "weir $sc $size B run $tag not clean (see $f)"
	jq -r '.sub.msgs_per_sec | floor' "$f"
}

# nats_run SIZE MSGS SUBS → aggregate msgs/s at the subscribers, "NA" if the run failed.
nats_run() {
	local size=$1 msgs=$2 subs=$3 tag=$4
	local f=$OUT/nats-$subs-$size-$tag
	"$BIN/nats" -s "$NATS_URL" bench sub "$SUBJECT" --clients "$subs" --msgs "$msgs" --size "$size" --no-progress \
		>"$f.sub.out" 2>&1 &
	local sub=$!
	local n=0
	for _ in $(seq 200); do
		n=$(nats_subs)
		((n >= subs)) && break
		sleep 0.05
	done
	((n >= subs)) || die "NATS subscribers did not subscribe"
	"$BIN/nats" -s "$NATS_URL" bench pub "$SUBJECT" --msgs "$msgs" --size "$size" --no-progress >"$f.pub.out" 2>&1
	# A slow consumer is disconnected by the server, loses messages and would wait forever: bound the wait.
	local deadline=$((SECONDS + NATS_WAIT))
	while kill -0 "$sub" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if kill -0 "$sub" 2>/dev/null; then
		kill "$sub" 2>/dev/null || true
		wait "$sub" 2>/dev/null || true
		log "NATS $subs-sub $size B run $tag: subscribers did not receive every message (slow consumer; see $f.sub.out)"
		echo NA
		return
	fi
	wait "$sub" || true
	grep -E 'subscriber (aggregated )?stats:' "$f.sub.out" | sed -E 's/.*stats: ([0-9,]+) msgs\/sec.*/\1/' | tr -d ,
}

median() { # numbers on stdin → median ("NA" entries ignored)
	grep -v NA | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "NA"; else print a[int((NR+1)/2)]}'
}

fmt() { # 1234567 → 1,234,567
	[[ $1 == NA ]] && { echo NA; return; }
	echo "$1" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta'
}

ratio() {
	[[ $1 == NA || $2 == NA || $2 == 0 ]] && { echo "—"; return; }
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a/b}'
}

ROWS=()
point() { # SCENARIO SIZE MSGS SUBS (NATS: yes|no)
	local sc=$1 size=$2 msgs=$3 subs=$4 nats=$5 w=() n=()
	for i in $(seq "$RUNS"); do
		log "run $i/$RUNS: weir $sc $size B"
		w+=("$(weir_run "$sc" "$size" "$msgs" "$subs" "$i")")
		if [[ $nats == yes ]]; then
			log "run $i/$RUNS: NATS $subs-sub $size B"
			n+=("$(nats_run "$size" "$msgs" "$subs" "$i")")
		fi
	done
	local wm nm=NA
	wm=$(printf '%s\n' "${w[@]}" | median)
	[[ $nats == yes ]] && nm=$(printf '%s\n' "${n[@]}" | median)
	local label=$sc
	[[ $sc == fanout ]] && label="fanout ×$subs"
	ROWS+=("| $label | $size B | $(fmt "$wm") | $(fmt "$nm") | $(ratio "$wm" "$nm") | ${w[*]} | ${n[*]:-—} |")
}

point direct 64 "$MSGS" 1 no
point direct 1024 "$MSGS_1K" 1 no
point relay 64 "$MSGS" 1 yes
point relay 1024 "$MSGS_1K" 1 yes
point fanout 64 "$MSGS" "$SUBS" yes
point fanout 1024 "$MSGS_1K" "$SUBS" yes

# Latency at a fixed rate, 64 B, pub → relay/server → sub.
to_us() { # "1.039ms" / "330µs" / "12.5s" → microseconds
	awk '{v=$1; u=$1; gsub(/[^0-9.]/, "", v); gsub(/[0-9.]/, "", u);
		m = (u == "ms") ? 1000 : (u == "s") ? 1000000 : (u == "ns") ? 0.001 : 1; printf "%.1f", v*m}'
}
LAT=()
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: latency at $LAT_RATE msgs/s"
	f=$OUT/weir-latency-$i.json
	"$BIN/weir-bench" pubsub --scenario relay --size 64 --rate "$LAT_RATE" --msgs $((LAT_RATE * LAT_SECS)) --json --timeout 3m >"$f" ||
		log "weir latency run $i not clean (see $f)"
	LAT+=("| weir relay, run $i | $(jq -r '[.latency.p50_us, .latency.p90_us, .latency.p99_us, .latency.p99_9_us] | map(. * 10 | round / 10 | tostring) | join(" | ")' "$f") |")
	g=$OUT/nats-latency-$i.out
	"$BIN/nats" -s "$NATS_URL" latency --server-b "$NATS_URL" --size 64 --rate "$LAT_RATE" --duration "${LAT_SECS}s" >"$g" 2>&1 || true
	p=()
	for q in 50 90 99 99.9; do
		p+=("$(grep -E " $q: " "$g" | head -1 | awk '{print $NF}' | to_us)")
	done
	LAT+=("| NATS pub → server → sub, run $i | ${p[0]} | ${p[1]} | ${p[2]} | ${p[3]} |")
done

log "weir --latency: max rate, then half of it (relay, 64 B)"
"$BIN/weir-bench" pubsub --scenario relay --size 64 --msgs "$MSGS" --latency --json --timeout 5m >"$OUT/weir-latency-half.json" ||
	log "weir --latency run not clean (see $OUT/weir-latency-half.json)"
HALF=$(jq -r '"| weir relay at half its max (\(.latency.rate | floor) msgs/s) | \([.latency.latency.p50_us, .latency.latency.p90_us, .latency.latency.p99_us, .latency.latency.p99_9_us] | map(. * 10 | round / 10 | tostring) | join(" | ")) |"' "$OUT/weir-latency-half.json")

{
	echo "## Throughput (msgs/s delivered at the subscribers, median of $RUNS)"
	echo
	echo "| scenario | size | weir | NATS | weir/NATS | weir runs | NATS runs |"
	echo "|---|---|---:|---:|---:|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "## Latency at $LAT_RATE msgs/s, 64 B (µs)"
	echo
	echo "| run | p50 | p90 | p99 | p99.9 |"
	echo "|---|---:|---:|---:|---:|"
	printf '%s\n' "${LAT[@]}"
	echo "$HALF"
} | tee "$OUT/results.md"
log "raw results in $OUT"
