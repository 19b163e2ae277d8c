# Shell helpers for the Redis cases (sourced in the guest as /tests/redis.sh):
# Debian's redis-server and redis-cli of the host, run in the VM by
# host-run, on loopback TCP.

# redis_start PORT DIR MODE [ARG...]: start a server (MODE on: with COW
# PTE, kept across exec) whose files go to DIR; wait until it answers.
redis_start() {
	local port=$1 dir=$2 pre="" i=0
	[ "$3" = on ] && pre="cowpte run"
	shift 3
	mkdir -p "$dir"
	$pre host-run redis-server --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$dir" --dbfilename dump.rdb \
		--enable-debug-command yes --daemonize no \
		--logfile "$dir/redis.log" "$@" &
	until host-run redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "# redis on port $port did not start:"; cat "$dir/redis.log"; return 1; }
		sleep 0.5
	done
}

# rcli PORT ARG...: one command, the reply on stdout.
rcli() {
	local port=$1
	shift
	host-run redis-cli -p "$port" "$@"
}

# redis_info PORT NAME: one field of INFO.
redis_info() {
	rcli "$1" INFO | tr -d '\r' | sed -n "s/^$2://p"
}

# redis_bgsave PORT: a BGSAVE, waited for; fails unless it saved.
redis_bgsave() {
	rcli "$1" BGSAVE > /dev/null || return 1
	while [ "$(redis_info "$1" rdb_bgsave_in_progress)" != 0 ]; do
		sleep 0.2
	done
	[ "$(redis_info "$1" rdb_last_bgsave_status)" = ok ]
}

# redis_stop PORT: shut the server down without saving, wait for it.
redis_stop() {
	local i=0
	rcli "$1" SHUTDOWN NOSAVE > /dev/null 2>&1
	while rcli "$1" PING > /dev/null 2>&1 && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	wait
}
