#!/usr/bin/env bash
# tools/bench-polling/run.sh: the polling benchmark.
#
# One `newswatch once` cycle over N local feeds x M items, served from loopback by nginx, cold
# (fresh database) and again with every feed unchanged (every answer a 304); the same feeds
# fetched by rss2email 3.x and newsboat 2.x from Debian's packages, cold and again (newsboat:
# twice again, as it sends no validators until its third run). For every
# run: wall time and peak RSS (GNU time -v), CPU time, and the HTTP status of every request
# (from nginx's access log, so a "304 run" is checked to be one). Cold runs also report
# articles/s = N*M / wall.
#
#   tools/bench-polling/run.sh                 # everything (about 30-40 minutes on 2 cores)
#   SIZES="200x20" REPEAT=1 tools/bench-polling/run.sh      # a quick look
#   TOOLS=newswatch SIZES=2000x20 tools/bench-polling/run.sh
#   PROFILE=1 SIZES=200x20 tools/bench-polling/run.sh      # + callgrind of newswatch cold/304
#   BACKENDS="sqlite postgres" TOOLS=newswatch SIZES=2000x20 tools/bench-polling/run.sh
#                                                          # newswatch on SQLite and PostgreSQL
#
# Settings (environment):
#   SIZES        "2000x20 200x50"   feeds x items per size
#   REPEAT       2                  runs of each measurement (the summary gives the median and
#                                   the best wall time, and the largest peak RSS seen)
#   TOOLS        "newswatch rss2email newsboat"
#   PER_HOST     "2 16"             newswatch [polling] per_host values; every feed is on the
#                                   one host 127.0.0.1, so per_host is what bounds newswatch
#   CONCURRENCY  16                 newswatch [polling] concurrency
#   BACKENDS     sqlite             newswatch's databases: "sqlite" (a fresh file per cold run)
#                                   and/or "postgres" (a fresh database per cold run, created
#                                   through PG_ADMIN_URL and dropped at the end; needs psql)
#   PG_ADMIN_URL postgres://postgres@127.0.0.1:5432/postgres   where those databases are made
#   PG_MAX_CONNECTIONS              newswatch [database] max_connections on PostgreSQL (unset:
#                                   newswatch's default, 8)
#   NEWSBOAT_THREADS "1"            newsboat `reload-threads` values (1 = newsboat's default)
#   R2E_MODES    maildir            rss2email variants: "maildir" (every new item becomes a mail in
#                                   a local Maildir) and/or "no-send" (`r2e run --no-send`: fetch,
#                                   parse and mark seen, build no mail)
#   R2E_MAX_FEEDS 2000              rss2email runs on at most this many feeds of a size; above it
#                                   the numbers are extrapolated linearly (marked "extrap.")
#   WORK         /tmp/bench-polling where feeds, state, logs and results go (wiped per run)
#   PORT         18089              nginx listens on 127.0.0.1:PORT only
#   NEWSWATCH_BIN                   use this binary instead of `cargo build --release`
#   INSTALL      1                  apt-get install what is missing (nginx-light, time,
#                                   rss2email, newsboat, sqlite3; valgrind with PROFILE=1)
#   SUMMARY_ONLY 0                  1: only re-make WORK/summary.md from WORK/results.tsv
#   PROFILE      0                  1: also run newswatch under valgrind --tool=callgrind on the
#                                   first PROFILE_FEEDS (200) feeds of the first size (cold, then
#                                   304), per_host=16; outputs in WORK/profile
#
# Everything stays on loopback: nginx binds 127.0.0.1, item links point at it too (nothing
# fetches them), rss2email delivers into a local Maildir, newswatch writes .eml files.
# Results: WORK/results.tsv (one line per run) and WORK/summary.md (the table for README.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZES=${SIZES:-"2000x20 200x50"}
REPEAT=${REPEAT:-2}
TOOLS=${TOOLS:-"newswatch rss2email newsboat"}
PER_HOST=${PER_HOST:-"2 16"}
CONCURRENCY=${CONCURRENCY:-16}
NEWSBOAT_THREADS=${NEWSBOAT_THREADS:-"1"}
R2E_MAX_FEEDS=${R2E_MAX_FEEDS:-2000}
R2E_MODES=${R2E_MODES:-maildir}
WORK=${WORK:-/tmp/bench-polling}
PORT=${PORT:-18089}
INSTALL=${INSTALL:-1}
PROFILE=${PROFILE:-0}
PROFILE_FEEDS=${PROFILE_FEEDS:-200}
BACKENDS=${BACKENDS:-sqlite}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-}
BASE="http://127.0.0.1:$PORT"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Summary: per (size, tool, variant, phase): median and best wall, largest peak RSS, CPU.
summarize() {
python3 - "$WORK/results.tsv" >"$WORK/summary.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = {}
for r in rows:
    groups.setdefault((r["size"], r["tool"], r["variant"]), {}).setdefault(r["phase"], []).append(r)
print("| feeds x items | tool | setting | phase | wall s (median) | wall s (best) | peak RSS MiB (max) | CPU s (median) | articles/s (median wall) | requests: 200 / 304 | runs |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---|---:|")
for (size, tool, variant), phases in groups.items():
    n, m = map(int, size.split("x"))
    for phase in ("cold", "2nd", "304"):
        rs = phases.get(phase, [])
        if not rs:
            continue
        used = int(rs[0]["feeds_used"])
        scale = n / used
        walls = [float(r["wall_s"]) * scale for r in rs]
        cpu = [(float(r["user_s"]) + float(r["sys_s"])) * scale for r in rs]
        rss = max(int(r["maxrss_kib"]) for r in rs) / 1024
        med = statistics.median(walls)
        aps = f"{n * m / med:,.0f}" if phase == "cold" else "–"
        note = f" (extrap. from {used} feeds)" if used != n else ""
        reqs = f"{rs[0]['n200']} / {rs[0]['n304']}" + (f" (+{rs[0]['nother']} other)" if rs[0]["nother"] != "0" else "")
        print(f"| {n:,} x {m} | {tool}{note} | {variant} | {phase} | {med:.2f} | {min(walls):.2f} | {rss:.1f} | {statistics.median(cpu):.2f} | {aps} | {reqs} | {len(rs)} |")
PY
}
if [[ ${SUMMARY_ONLY:-0} == 1 ]]; then # re-make WORK/summary.md from WORK/results.tsv
    summarize && cat "$WORK/summary.md" && exit 0
fi

# ---------------------------------------------------------------------------------------------
# Tools
need_pkg=()
[[ -x /usr/sbin/nginx ]] || need_pkg+=(nginx-light)
[[ -x /usr/bin/time ]] || need_pkg+=(time)
[[ " $TOOLS " == *" rss2email "* ]] && ! command -v r2e >/dev/null && need_pkg+=(rss2email)
[[ " $TOOLS " == *" newsboat "* ]] && ! command -v newsboat >/dev/null && need_pkg+=(newsboat)
command -v sqlite3 >/dev/null || need_pkg+=(sqlite3)
[[ $PROFILE == 1 ]] && ! command -v valgrind >/dev/null && need_pkg+=(valgrind)
[[ " $BACKENDS " == *" postgres "* ]] && ! command -v psql >/dev/null && need_pkg+=(postgresql-client)
if ((${#need_pkg[@]})); then
    [[ $INSTALL == 1 ]] || die "missing: ${need_pkg[*]} (INSTALL=1 installs them)"
    log "installing ${need_pkg[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkg[@]}" >/dev/null
fi

BIN_ORIGIN="given as NEWSWATCH_BIN"
if [[ -z ${NEWSWATCH_BIN:-} && " $TOOLS " == *" newswatch "* ]]; then
    BIN_ORIGIN="built here"
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --bin newswatch)
    NEWSWATCH_BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/newswatch
fi

rm -rf "$WORK"
mkdir -p "$WORK"/{www,nginx,state,logs}
if [[ -n ${NEWSWATCH_BIN:-} ]]; then
    # A private copy: the target directory may be rebuilt by someone else meanwhile.
    cp "$NEWSWATCH_BIN" "$WORK/newswatch"
    NEWSWATCH_BIN=$WORK/newswatch
fi
RESULTS=$WORK/results.tsv
printf 'size\tfeeds_used\ttool\tvariant\tphase\trep\twall_s\tmaxrss_kib\tuser_s\tsys_s\treq\tn200\tn304\tnother\titems_stored\tmails\tload1\n' >"$RESULTS"

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "mem: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
    echo "uptime at start: $(uptime)"
    echo "nginx: $(/usr/sbin/nginx -v 2>&1)"
    command -v r2e >/dev/null && echo "rss2email: $(r2e --version 2>&1) ($(dpkg-query -W -f '${Version}' rss2email 2>/dev/null))"
    command -v newsboat >/dev/null && echo "newsboat: $(newsboat -v 2>&1 | head -1) ($(dpkg-query -W -f '${Version}' newsboat 2>/dev/null))"
    [[ " $BACKENDS " == *" postgres "* ]] && echo "postgres: $(psql "$PG_ADMIN_URL" -Atc 'SELECT version()' 2>&1 | head -1); synchronous_commit $(psql "$PG_ADMIN_URL" -Atc 'SHOW synchronous_commit' 2>&1)"
    [[ -n ${NEWSWATCH_BIN:-} ]] && echo "newswatch: $("$NEWSWATCH_BIN" --version 2>&1), binary $BIN_ORIGIN; work tree at $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)'), binary sha256 $(sha256sum "$NEWSWATCH_BIN" | cut -c1-16)"
} >"$WORK/machine.txt"
cat "$WORK/machine.txt" >&2

# ---------------------------------------------------------------------------------------------
# Feeds: N RSS 2.0 files of M items each; item 0 of every 100th feed matches the watch below.
generate() { # N M DIR
    python3 - "$@" "$BASE" <<'PY'
import html, os, random, sys, time
from email.utils import formatdate

n, m, out, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rng = random.Random(20240601)
# News-like words, none in the watch's @russia or @dprk lists (so only planted items match).
words = """government minister council budget election voters campaign parliament policy reform
economy inflation markets investors shares bank interest rates growth forecast report analysts
company chief executive profit revenue quarter workers union strike wages industry factory
energy prices climate emissions storm flooding weather coast residents officials emergency
hospital health doctors patients vaccine study researchers university science data software
court judge trial lawyers ruling appeal police investigation suspect city council housing rent
transport railway airport flights passengers delays schools teachers students exam league
match season coach players stadium final championship festival film music album artist museum
exhibition book author award prize farmers harvest drought water supply region province mayor
protest demonstrators crowd streets statement spokesperson agency commission regulators rules
privacy platform users smartphone launch startup funding deal merger acquisition tariff trade
exports imports shipping port container fuel electricity grid solar wind turbines battery
cars vehicles electric charging network internet outage service customers complaints survey
poll majority opposition coalition vote bill law senate committee hearing witnesses testimony
report findings review audit spending cuts taxes pension retirement families children care
community volunteers charity donations fire brigade rescue earthquake aftershock damage repairs
bridge road construction project contract tender architects design heritage tourism visitors
hotel restaurant chefs food prices supermarket shoppers retail sales online orders delivery
warehouse logistics drivers shortage recruitment jobs unemployment figures statistics office
monday tuesday wednesday thursday friday weekend morning evening week month year decade
new major local national regional global annual early late recent latest key senior former
said announced warned confirmed rejected approved delayed expected reported revealed agreed
plans talks after before during amid despite following over under against across""".split()
verbs = "said announced warned confirmed rejected approved delayed expected reported revealed agreed".split()

def sentence(k):
    w = [rng.choice(words) for _ in range(k)]
    w[min(2, k - 1)] = rng.choice(verbs)
    return " ".join(w).capitalize() + "."

def description(target=100):
    paras, count = [], 0
    while count < target:
        sents = []
        for _ in range(rng.randint(2, 3)):
            k = rng.randint(9, 18)
            sents.append(sentence(k)); count += k
        paras.append("<p>" + " ".join(sents) + "</p>")
    return "".join(paras)

match_title = "Putin hosts Kim Jong Un at Vostochny for talks on satellites and military cooperation"
match_desc = ("<p>Russian President Vladimir Putin welcomed North Korean leader Kim Jong Un at the "
              "Vostochny cosmodrome, where the two discussed military cooperation, satellite "
              "technology and arms supplies, officials in Moscow said.</p>" + description(60))

now = time.time()
os.makedirs(out, exist_ok=True)
for f in range(1, n + 1):
    name = f"f{f:05d}"
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n',
             f"<title>Bench Daily {f}</title>\n<link>{base}/site/{name}/</link>\n",
             f"<description>Local news wire number {f}</description>\n<language>en</language>\n",
             f"<lastBuildDate>{formatdate(now, usegmt=True)}</lastBuildDate>\n"]
    for i in range(m):
        planted = i == 0 and f % 100 == 0
        title = match_title if planted else " ".join(rng.choice(words) for _ in range(rng.randint(6, 12))).capitalize()
        desc = match_desc if planted else description()
        link = f"{base}/site/{name}/{i:04d}-{rng.getrandbits(32):08x}.html"
        date = formatdate(now - 600 - i * 37 * 60 - rng.randint(0, 300), usegmt=True)
        parts.append(f"<item>\n<title>{html.escape(title)}</title>\n<link>{link}</link>\n"
                     f'<guid isPermaLink="true">{link}</guid>\n<pubDate>{date}</pubDate>\n'
                     f"<category>{rng.choice(['World', 'Business', 'Science', 'Sport', 'Culture'])}</category>\n"
                     f"<description><![CDATA[{desc}]]></description>\n</item>\n")
    parts.append("</channel>\n</rss>\n")
    with open(os.path.join(out, name + ".xml"), "w", encoding="utf-8") as fh:
        fh.write("".join(parts))
PY
}

# ---------------------------------------------------------------------------------------------
# nginx on 127.0.0.1:PORT serving WORK/www: static files with ETag + Last-Modified, answering
# If-None-Match / If-Modified-Since with 304. Keep-alive on.
NGINX_PID=
stop_nginx() { [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null; NGINX_PID=; }
# PostgreSQL databases made by this run (BACKENDS=postgres), dropped on exit.
PG_DATABASES=()
drop_pg_databases() {
    local db
    for db in ${PG_DATABASES[@]+"${PG_DATABASES[@]}"}; do
        psql "$PG_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "warning: could not drop database $db"
    done
    PG_DATABASES=()
}
cleanup() { stop_nginx; drop_pg_databases; }
trap cleanup EXIT
# A fresh PostgreSQL database; its URL in PG_URL.
PG_URL=
make_pg_database() { # NAME
    local db=$1
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    psql "$PG_ADMIN_URL" -q -c "CREATE DATABASE $db" >/dev/null || die "cannot create database $db through $PG_ADMIN_URL"
    PG_DATABASES+=("$db")
    PG_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PG_ADMIN_URL" "$db")
}
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    log_format bench '\$status \$request_method \$request_uri inm="\$http_if_none_match" ims="\$http_if_modified_since" ua="\$http_user_agent"';
    access_log $WORK/nginx/access.log bench;
    client_body_temp_path $WORK/nginx/tmp-body;
    proxy_temp_path $WORK/nginx/tmp-proxy;
    fastcgi_temp_path $WORK/nginx/tmp-fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp-uwsgi;
    scgi_temp_path $WORK/nginx/tmp-scgi;
    types { application/rss+xml xml; }
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/rss+xml;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/www;
        etag on;
    }
}
EOF
/usr/sbin/nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "$BASE/" 2>/dev/null && break
    sleep 0.1
done
curl -s -o /dev/null "$BASE/" || die "nginx did not start (see $WORK/nginx/error.log)"
log "nginx $NGINX_PID on $BASE"

# ---------------------------------------------------------------------------------------------
# Measuring: GNU time -v around the command; nginx's access log lines written meanwhile.
ACCESS=$WORK/nginx/access.log
# measure SIZE FEEDS_USED TOOL VARIANT PHASE REP COUNT_CMD -- command...
measure() {
    local size=$1 used=$2 tool=$3 variant=$4 phase=$5 rep=$6 count_cmd=$7
    shift 8
    local tag="$size-$tool-$variant-$phase-$rep"
    local tv="$WORK/logs/$tag.time" load before
    load=$(cut -d' ' -f1 /proc/loadavg)
    sync
    before=$(wc -l <"$ACCESS")
    /usr/bin/time -v -o "$tv" "$@" >"$WORK/logs/$tag.out" 2>"$WORK/logs/$tag.err" \
        || log "warning: $tag exited non-zero (see $WORK/logs/$tag.err)"
    sleep 0.2 # nginx writes its log line after the response
    local codes n200 n304 nall
    codes=$(tail -n +"$((before + 1))" "$ACCESS" | cut -d' ' -f1)
    nall=$(grep -c . <<<"$codes" || true)
    n200=$(grep -c '^200$' <<<"$codes" || true)
    n304=$(grep -c '^304$' <<<"$codes" || true)
    local wall rss user sys stored mails
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tv")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    user=$(awk -F': ' '/User time/ {print $2}' "$tv")
    sys=$(awk -F': ' '/System time/ {print $2}' "$tv")
    read -r stored mails < <(eval "$count_cmd" 2>/dev/null || echo "? ?")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$used" "$tool" \
        "$variant" "$phase" "$rep" "$wall" "$rss" "$user" "$sys" "$nall" "$n200" "$n304" \
        "$((nall - n200 - n304))" "$stored" "$mails" "$load" >>"$RESULTS"
    log "$(printf '%-8s %-10s %-12s %-4s #%s  wall %6.2fs  rss %6.1f MiB  cpu %6.2fs  req %s (200: %s, 304: %s)  stored %s  mails %s  load %s' \
        "$size" "$tool" "$variant" "$phase" "$rep" "$wall" "$(echo "$rss/1024" | bc -l)" \
        "$(echo "$user+$sys" | bc -l)" "$nall" "$n200" "$n304" "$stored" "$mails" "$load")"
}

# The watch: the project's shipped example (config.toml), lists included.
write_newswatch_config() { # STATE FEEDS_DIR_URL N PER_HOST [DATABASE_URL]
    local state=$1 url=$2 n=$3 per_host=$4 db_url=${5:-sqlite://$1/newswatch.db}
    {
        cat <<EOF
[database]
url = "$db_url"
$([[ $db_url == postgres* && -n $PG_MAX_CONNECTIONS ]] && echo "max_connections = $PG_MAX_CONNECTIONS")

[polling]
interval = "15m"
timeout = "30s"
concurrency = $CONCURRENCY
per_host = $per_host

[email]
from = "Newswatch <newswatch@localhost>"
transport = "file"
dir = "$state/alerts"

[lists]
dprk = ["North Korea", "N Korea", "North Korean*", "DPRK", "Pyongyang", "Kim Jong Un",
        "Kim Yo Jong", "Choe Son Hui", "КНДР", "Северная Корея", "северокорейск*", "Пхеньян",
        "Ким Чен Ын", "Ким Ё Чжон", "Цой Сон Хи", "Корейская Народно-Демократическая Республика"]
russia = ["Russia", "Russian*", "Moscow", "Kremlin", "Putin", "Lavrov", "Shoigu", "Belousov",
          "Vladivostok", "Vostochny", "Kursk", "Россия", "российск*", "РФ", "Москва", "Кремль",
          "Путин", "Лавров", "Шойгу", "Белоусов", "Владивосток", "Восточный", "Курск*"]
military = ["military", "army", "troop*", "soldier*", "weapon*", "arms", "munition*", "ammunition",
            "shell*", "artillery", "missile*", "ballistic", "rocket*", "drone*", "satellite*",
            "defence", "defense", "war", "warplane*", "fighter jet*", "tank*", "submarine*",
            "nuclear", "arms deal", "sanction*", "treaty", "alliance", "ally", "allies", "navy",
            "naval", "exercise*", "drill*", "space", "technology", "военн*", "армия", "войска",
            "войск*", "солдат*", "оружие", "вооружени*", "боеприпас*", "снаряд*", "артиллери*",
            "ракет*", "дрон*", "беспилотник*", "спутник*", "оборона", "оборонн*", "война",
            "истребител*", "танк*", "ядерн*", "санкци*", "договор", "союз*", "учени*", "СВО"]
relations = ["summit", "talks", "visit*", "meeting", "meet", "cooperation", "partnership", "ties",
             "relations", "delegation", "strategic", "support", "trip", "travel*", "arriv*",
             "host*", "invit*", "friend*", "rendezvous", "armoured train", "armored train",
             "en route", "саммит", "переговоры", "визит*", "встреча", "встретиться",
             "сотрудничество", "партнерство", "отношения", "связи", "делегация", "стратегическ*",
             "поддержка", "поездка", "прибыть", "приглашение", "пригласить", "друг", "дружба",
             "бронепоезд"]

[[watch]]
name = "Russia–DPRK military ties"
query = "@russia AND @dprk AND (@military OR @relations)"
to = ["analyst@example.org"]
EOF
        for ((f = 1; f <= n; f++)); do
            printf '\n[[feeds]]\nname = "f%05d"\nurl = "%s/f%05d.xml"\n' "$f" "$url" "$f"
        done
    } >"$state/newswatch.toml"
}

write_r2e_config() { # STATE URL N
    local state=$1 url=$2 n=$3
    {
        cat <<EOF
[DEFAULT]
from = bench@localhost
to = bench@localhost
email-protocol = maildir
maildir-path = $state/Maildir
maildir-mailbox = INBOX
verbose = warning
EOF
        for ((f = 1; f <= n; f++)); do
            printf '\n[feed.f%05d]\nurl = %s/f%05d.xml\n' "$f" "$url" "$f"
        done
    } >"$state/rss2email.cfg"
    mkdir -p "$state/Maildir/INBOX"/{new,cur,tmp}
}

write_newsboat_config() { # STATE URL N THREADS
    local state=$1 url=$2 n=$3 threads=$4
    for ((f = 1; f <= n; f++)); do printf '%s/f%05d.xml\n' "$url" "$f"; done >"$state/urls"
    printf 'reload-threads %s\nmax-items 0\nshow-read-feeds yes\n' "$threads" >"$state/config"
}

# ---------------------------------------------------------------------------------------------
for size in $SIZES; do
    n=${size%x*} m=${size#*x}
    log "generating $n feeds x $m items"
    generate "$n" "$m" "$WORK/www/$size"
    log "$(du -sh "$WORK/www/$size" | cut -f1) in $WORK/www/$size"
    url="$BASE/$size"
    for rep in $(seq "$REPEAT"); do
        for tool in $TOOLS; do
            case $tool in
            newswatch)
                for ph in $PER_HOST; do
                    for backend in $BACKENDS; do
                        case $backend in
                        sqlite)
                            state=$WORK/state/$size-newswatch-$ph-$rep
                            variant="per_host=$ph"
                            rm -rf "$state" && mkdir -p "$state/alerts"
                            write_newswatch_config "$state" "$url" "$n" "$ph"
                            stored="sqlite3 $state/newswatch.db 'select count(*) from articles'"
                            ;;
                        postgres)
                            state=$WORK/state/$size-newswatch-$ph-pg-$rep
                            variant="per_host=$ph,postgres"
                            rm -rf "$state" && mkdir -p "$state/alerts"
                            make_pg_database "bench_polling_$$_${size}_${ph}_$rep"
                            write_newswatch_config "$state" "$url" "$n" "$ph" "$PG_URL"
                            stored="psql '$PG_URL' -Atc 'select count(*) from articles'"
                            ;;
                        *) die "unknown backend $backend (sqlite or postgres)" ;;
                        esac
                        count="echo \$($stored) \$(ls $state/alerts | grep -c '\\.eml\$')"
                        for phase in cold 304; do
                            measure "$size" "$n" newswatch "$variant" "$phase" "$rep" "$count" -- \
                                "$NEWSWATCH_BIN" --config "$state/newswatch.toml" once
                        done
                        if [[ $backend == postgres ]]; then drop_pg_databases; fi
                    done
                done
                ;;
            rss2email)
                used=$((n < R2E_MAX_FEEDS ? n : R2E_MAX_FEEDS))
                for mode in $R2E_MODES; do
                    state=$WORK/state/$size-rss2email-$mode-$rep
                    rm -rf "$state" && mkdir -p "$state"
                    write_r2e_config "$state" "$url" "$used"
                    count="echo \$(python3 -c 'import json,sys; print(sum(len(f.get(\"seen\",{})) for f in json.load(open(sys.argv[1]))[\"feeds\"]))' $state/rss2email.json) \$(ls $state/Maildir/INBOX/new | wc -l)"
                    args=(run)
                    [[ $mode == no-send ]] && args=(run --no-send)
                    for phase in cold 304; do
                        measure "$size" "$used" rss2email "$mode" "$phase" "$rep" "$count" -- \
                            r2e -c "$state/rss2email.cfg" -d "$state/rss2email.json" "${args[@]}"
                    done
                done
                ;;
            newsboat)
                for th in $NEWSBOAT_THREADS; do
                    state=$WORK/state/$size-newsboat-$th-$rep
                    rm -rf "$state" && mkdir -p "$state"
                    write_newsboat_config "$state" "$url" "$n" "$th"
                    count="echo \$(sqlite3 $state/cache.db 'select count(*) from rss_item') -"
                    # newsboat 2.21 does not keep a feed's ETag/Last-Modified from its very first
                    # fetch (its feed row does not exist yet then), so its second run downloads
                    # everything again (measured as "2nd"); the third is the all-304 one.
                    for phase in cold 2nd 304; do
                        measure "$size" "$n" newsboat "threads=$th" "$phase" "$rep" "$count" -- \
                            env HOME="$state" XDG_CONFIG_HOME="$state" XDG_DATA_HOME="$state" \
                            newsboat -q -u "$state/urls" -c "$state/cache.db" -C "$state/config" -x reload
                    done
                done
                ;;
            *) die "unknown tool $tool" ;;
            esac
        done
    done
    # Keep only the results; a 2000-feed state is ~100 MB per run.
    rm -rf "$WORK"/state/"$size"-*/Maildir
done

# ---------------------------------------------------------------------------------------------
# Optional: callgrind of one newswatch cold and 304 cycle (first size, per_host = 16).
if [[ $PROFILE == 1 ]]; then
    size=${SIZES%% *} n=${size%x*}
    n=$((n < PROFILE_FEEDS ? n : PROFILE_FEEDS))
    state=$WORK/profile
    rm -rf "$state" && mkdir -p "$state/alerts"
    write_newswatch_config "$state" "$BASE/$size" "$n" 16
    for phase in cold 304; do
        log "callgrind: newswatch $n feeds of $size, $phase"
        valgrind --tool=callgrind --callgrind-out-file="$state/callgrind.$phase.out" \
            "$NEWSWATCH_BIN" --config "$state/newswatch.toml" once 2>"$state/$phase.err" >/dev/null
        callgrind_annotate --inclusive=yes "$state/callgrind.$phase.out" >"$state/inclusive.$phase.txt" 2>/dev/null || true
        callgrind_annotate "$state/callgrind.$phase.out" >"$state/self.$phase.txt" 2>/dev/null || true
    done
fi

echo "uptime at end: $(uptime)" >>"$WORK/machine.txt"

summarize
cat "$WORK/summary.md"
log "results: $RESULTS, $WORK/summary.md, machine: $WORK/machine.txt, logs: $WORK/logs"
