#!/usr/bin/env bash
# Installs (or upgrades) Faultline's Docker Compose topology (compose.yaml):
# checks the machine, writes the secrets to .env once, builds the images,
# starts the servers, applies the migrations and creates the first user.
# Safe to run again: it keeps .env's secrets and re-applies the rest.
# `./install.sh --help` lists the options; docs/operations.md, "Production
# install (Docker Compose)", explains each step.
set -euo pipefail

# The memory budget: the sum of the mem_limit values in compose.yaml
# (kafka 640 + clickhouse 1024 + postgres 256 + redis 96 + relay 96 +
# ingest-consumer 160 + query 160 + symbolicator 160 + web 160 + cron 64 +
# notifier 96 + nginx 32 MB).
# Below it the containers cannot all get their limits, so it is refused.
# A 4 GB machine is recommended: it leaves the host about 1.1 GB for
# itself, Docker and the page cache the databases read through
# (docs/operations.md, "Memory", has the measurement).
MIN_RAM_MB=3232
RECOMMENDED_RAM_MB=4096
# One CPU works, slowly (Kafka, ClickHouse and the Rust build share it).
MIN_CPUS=1
RECOMMENDED_CPUS=2
# Images, build cache and a first stretch of events.
MIN_DISK_GB=10
RECOMMENDED_DISK_GB=20
MIN_DOCKER_VERSION=20.10
MIN_COMPOSE_V2_VERSION=2.0
MIN_COMPOSE_V1_VERSION=1.29
# Kafka's JVM and ClickHouse take a while on a first start.
HEALTH_TIMEOUT_S=300
# The servers that must be healthy before `faultline upgrade` runs.
SERVERS=(kafka clickhouse postgres redis)
# The services whose images come from a registry rather than a build.
PULLED=(kafka clickhouse postgres redis nginx prometheus grafana)
DEFAULT_PORT=9000

usage() {
  cat <<EOF
Usage: ./install.sh [options]

Installs Faultline with Docker Compose in this directory: checks Docker,
Compose, RAM, CPUs and disk; writes .env with a new secret key and database
passwords (once: an existing .env keeps its values); pulls and builds the
images; starts Kafka, ClickHouse, PostgreSQL and Redis; runs
\`faultline upgrade --noinput\`; and creates the first user. Running it again
upgrades an install in place. Afterwards start everything with
\`docker compose up -d\`.

Options:
  --dry-run               run every check and print what would be done;
                          change nothing; exit non-zero if a check fails
  --email EMAIL           the first user's email (a superuser)
  --password PASSWORD     the first user's password
  --skip-user-creation    create no user
  --no-input              never prompt; without both --email and --password
                          no user is created (also when stdin is no terminal)
  --url-prefix URL        the public URL SDKs and browsers use, written to .env
                          as FAULTLINE_SYSTEM_URL_PREFIX
                          (default http://localhost:PORT)
  -h, --help              show this help

Requirements: Docker Engine $MIN_DOCKER_VERSION+, Compose v2 (docker compose)
$MIN_COMPOSE_V2_VERSION+ or docker-compose $MIN_COMPOSE_V1_VERSION+, at least $MIN_RAM_MB MB of RAM
(recommended $RECOMMENDED_RAM_MB MB), $MIN_CPUS CPU (recommended $RECOMMENDED_CPUS), $MIN_DISK_GB GB of free disk
(recommended $RECOMMENDED_DISK_GB GB) where Docker keeps its data.

Each probe can be replaced by a value (for tests, or where a probe is wrong):
  FAULTLINE_INSTALL_MEM_MB, FAULTLINE_INSTALL_CPUS, FAULTLINE_INSTALL_DISK_GB,
  FAULTLINE_INSTALL_DOCKER_VERSION, FAULTLINE_INSTALL_COMPOSE_VERSION
EOF
}

# --- Output ----------------------------------------------------------------

refused=0
say() { printf '%s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
# A failed check: reported, and the install stops once every check has run.
refuse() {
  printf 'error: %s\n' "$*" >&2
  refused=$((refused + 1))
}
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'error: %s (see ./install.sh --help)\n' "$*" >&2
  exit 2
}

# --- Options ---------------------------------------------------------------

dry_run=false
no_input=false
skip_user=false
email=""
password=""
url_prefix=""

while (($#)); do
  case $1 in
    --dry-run) dry_run=true ;;
    --no-input) no_input=true ;;
    --skip-user-creation) skip_user=true ;;
    --email | --password | --url-prefix)
      (($# >= 2)) || usage_error "$1 needs a value"
      case $1 in
        --email) email=$2 ;;
        --password) password=$2 ;;
        --url-prefix) url_prefix=$2 ;;
      esac
      shift
      ;;
    --email=*) email=${1#*=} ;;
    --password=*) password=${1#*=} ;;
    --url-prefix=*) url_prefix=${1#*=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown option $1" ;;
  esac
  shift
done

if [[ -n $url_prefix && ! $url_prefix =~ ^https?://[^[:space:]]+$ ]]; then
  usage_error "--url-prefix must start with http:// or https://, e.g. https://errors.example.com"
fi
url_prefix=${url_prefix%/}

# Probe overrides must be whole numbers where they replace a measurement.
for var in FAULTLINE_INSTALL_MEM_MB FAULTLINE_INSTALL_CPUS FAULTLINE_INSTALL_DISK_GB; do
  if [[ -n ${!var:-} && ! ${!var} =~ ^[0-9]+$ ]]; then
    usage_error "$var must be a whole number, not '${!var}'"
  fi
done

install_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$install_dir"
[[ -f compose.yaml ]] || die "compose.yaml not found in $install_dir: run install.sh from a Faultline checkout"

# --- Helpers -----------------------------------------------------------------

# version_ge HAVE NEED: whether HAVE (e.g. 24.0.7, v2.29.1-desktop.1,
# 20.10.24+dfsg1) is at least NEED (e.g. 20.10), comparing major.minor.patch.
version_ge() {
  local have=${1#v} i h n
  local -a hv nv
  have=${have%%[!0-9.]*}
  IFS=. read -r -a hv <<<"$have"
  IFS=. read -r -a nv <<<"$2"
  for i in 0 1 2; do
    h=${hv[i]:-0}
    n=${nv[i]:-0}
    if ((10#$h > 10#$n)); then return 0; fi
    if ((10#$h < 10#$n)); then return 1; fi
  done
  return 0
}

# Whether the real Docker may be asked (not when its version is simulated).
real_docker() {
  [[ -z ${FAULTLINE_INSTALL_DOCKER_VERSION:-} ]] && command -v docker >/dev/null 2>&1
}

# Hex from the kernel's random source: safe in .env files and URLs alike.
random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

env_get() {
  [[ -f .env ]] || return 0
  sed -n "s/^$1=//p" .env | tail -n 1
}

env_has() {
  [[ -f .env ]] && grep -q "^$1=" .env
}

# The compose command, as an array: (docker compose) or (docker-compose).
compose=()

# --- Checks --------------------------------------------------------------------

check_docker() {
  local version
  if [[ -n ${FAULTLINE_INSTALL_DOCKER_VERSION:-} ]]; then
    version=$FAULTLINE_INSTALL_DOCKER_VERSION
  elif ! command -v docker >/dev/null 2>&1; then
    refuse "Docker is not installed: Faultline needs Docker Engine $MIN_DOCKER_VERSION or newer (https://docs.docker.com/engine/install/)"
    return
  elif ! version=$(docker version --format '{{.Server.Version}}' 2>/dev/null) || [[ -z $version ]]; then
    refuse "cannot reach the Docker daemon: start it (e.g. sudo systemctl start docker) or run install.sh as a user allowed to use Docker"
    return
  fi
  if version_ge "$version" "$MIN_DOCKER_VERSION"; then
    ok "Docker $version"
  else
    refuse "Docker $version is too old: Faultline needs Docker Engine $MIN_DOCKER_VERSION or newer"
  fi
}

check_compose() {
  local version need
  if [[ -n ${FAULTLINE_INSTALL_COMPOSE_VERSION:-} ]]; then
    version=${FAULTLINE_INSTALL_COMPOSE_VERSION#v}
    if [[ ${version%%.*} =~ ^[0-9]+$ ]] && ((${version%%.*} >= 2)); then
      compose=(docker compose)
    else
      compose=(docker-compose)
    fi
  elif version=$(docker compose version --short 2>/dev/null) && [[ -n $version ]]; then
    compose=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1 &&
    version=$(docker-compose version --short 2>/dev/null) && [[ -n $version ]]; then
    compose=(docker-compose)
  else
    refuse "Docker Compose is not installed: Faultline needs the compose plugin ('docker compose' $MIN_COMPOSE_V2_VERSION or newer) or docker-compose $MIN_COMPOSE_V1_VERSION or newer"
    return
  fi
  version=${version#v}
  if [[ ${compose[*]} == "docker compose" ]]; then
    need=$MIN_COMPOSE_V2_VERSION
  else
    need=$MIN_COMPOSE_V1_VERSION
  fi
  if version_ge "$version" "$need"; then
    ok "${compose[*]} $version"
  else
    refuse "${compose[*]} $version is too old: Faultline needs 'docker compose' $MIN_COMPOSE_V2_VERSION or newer, or docker-compose $MIN_COMPOSE_V1_VERSION or newer"
  fi
}

check_ram() {
  local mb="" bytes
  if [[ -n ${FAULTLINE_INSTALL_MEM_MB:-} ]]; then
    mb=$FAULTLINE_INSTALL_MEM_MB
  elif real_docker && bytes=$(docker info --format '{{.MemTotal}}' 2>/dev/null) && [[ $bytes =~ ^[0-9]+$ ]] && ((bytes > 0)); then
    # What the engine can give containers (in Docker Desktop, its VM's RAM).
    mb=$((bytes / 1024 / 1024))
  elif [[ -r /proc/meminfo ]]; then
    mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  fi
  if [[ -z $mb ]]; then
    warn "cannot measure the RAM; Faultline needs at least $MIN_RAM_MB MB (set FAULTLINE_INSTALL_MEM_MB to the amount to check it)"
  elif ((mb < MIN_RAM_MB)); then
    refuse "not enough RAM: $mb MB, Faultline needs at least $MIN_RAM_MB MB (the sum of the containers' memory limits in compose.yaml)"
  elif ((mb < RECOMMENDED_RAM_MB)); then
    warn "$mb MB of RAM is enough to start, but $RECOMMENDED_RAM_MB MB or more is recommended"
  else
    ok "$mb MB of RAM"
  fi
}

check_cpus() {
  local cpus=""
  if [[ -n ${FAULTLINE_INSTALL_CPUS:-} ]]; then
    cpus=$FAULTLINE_INSTALL_CPUS
  elif real_docker && cpus=$(docker info --format '{{.NCPU}}' 2>/dev/null) && [[ $cpus =~ ^[0-9]+$ ]]; then
    :
  else
    cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || true)
  fi
  if [[ ! $cpus =~ ^[0-9]+$ ]]; then
    warn "cannot count the CPUs; $RECOMMENDED_CPUS or more are recommended (set FAULTLINE_INSTALL_CPUS to check it)"
  elif ((cpus < MIN_CPUS)); then
    refuse "not enough CPUs: $cpus, Faultline needs at least $MIN_CPUS"
  elif ((cpus < RECOMMENDED_CPUS)); then
    warn "$cpus CPU: Faultline runs, but slowly; $RECOMMENDED_CPUS or more are recommended"
  else
    ok "$cpus CPUs"
  fi
}

check_disk() {
  local gb="" path=$install_dir root
  if [[ -n ${FAULTLINE_INSTALL_DISK_GB:-} ]]; then
    gb=$FAULTLINE_INSTALL_DISK_GB
  else
    # The volumes and images live in Docker's root directory, when it is on
    # this machine; otherwise (a remote or VM engine) check the install dir.
    if real_docker && root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) && [[ -d $root ]]; then
      path=$root
    fi
    gb=$(df -Pk "$path" 2>/dev/null | awk 'NR == 2 { print int($4 / 1024 / 1024) }')
  fi
  if [[ -z $gb ]]; then
    warn "cannot measure the free disk space in $path; Faultline needs at least $MIN_DISK_GB GB (set FAULTLINE_INSTALL_DISK_GB to check it)"
  elif ((gb < MIN_DISK_GB)); then
    refuse "not enough free disk: $gb GB in $path, Faultline needs at least $MIN_DISK_GB GB"
  elif ((gb < RECOMMENDED_DISK_GB)); then
    warn "$gb GB free in $path is enough to start, but $RECOMMENDED_DISK_GB GB or more is recommended"
  else
    ok "$gb GB free in $path"
  fi
}

# A new POSTGRES_PASSWORD would not open an existing database: PostgreSQL
# takes the password only when it creates its data directory.
check_env_matches_data() {
  local project
  env_has POSTGRES_PASSWORD && return 0
  real_docker || return 0
  project=$(env_get COMPOSE_PROJECT_NAME)
  project=${project:-faultline}
  if docker volume inspect "${project}_postgres" >/dev/null 2>&1; then
    refuse "the data volume ${project}_postgres exists but .env has no POSTGRES_PASSWORD: restore the .env that belongs to this data (a new password would not open it)"
  fi
}

# --- Steps -----------------------------------------------------------------------

# run CMD...: runs a command, or in a dry run prints it.
run() {
  if $dry_run; then
    say "would run: $*"
  else
    say "+ $*"
    "$@"
  fi
}

# Adds KEY=VALUE to .env unless KEY is there; `what` names it in messages
# without showing secrets.
env_add() {
  local key=$1 value=$2 what=$3
  if env_has "$key"; then
    say "  .env: keeping $key"
  elif $dry_run; then
    say "would add to .env: $key ($what)"
  else
    # A hand-edited .env may lack its final newline.
    if [[ -s .env && -n $(tail -c 1 .env) ]]; then
      printf '\n' >>.env
    fi
    printf '%s=%s\n' "$key" "$value" >>.env
    say "  .env: added $key ($what)"
  fi
}

# Replaces KEY's line in .env (or adds it).
env_set() {
  local key=$1 value=$2 tmp
  if ! env_has "$key"; then
    env_add "$key" "$value" "$value"
  elif [[ $(env_get "$key") == "$value" ]]; then
    say "  .env: keeping $key"
  elif $dry_run; then
    say "would change in .env: $key=$value"
  else
    tmp=$(mktemp .env.XXXXXX)
    awk -v key="$key" -v line="$key=$value" \
      'index($0, key "=") == 1 { print line; next } { print }' .env >"$tmp"
    chmod 600 "$tmp"
    mv "$tmp" .env
    say "  .env: set $key=$value"
  fi
}

write_env() {
  local port
  if [[ ! -f .env ]]; then
    if $dry_run; then
      say "would create .env (readable by its owner only)"
    else
      (
        umask 077
        printf '# Written by install.sh. Keep it: the secret key and the passwords\n# belong to the data in the Docker volumes. See .env.example.\n' >.env
      )
      say "  created .env"
    fi
  fi
  env_add COMPOSE_PROJECT_NAME faultline "the compose project, and the prefix of its volumes"
  port=$(env_get FAULTLINE_PORT)
  env_add FAULTLINE_PORT "${port:-$DEFAULT_PORT}" "the published port"
  port=${port:-$DEFAULT_PORT}
  if [[ -n $url_prefix ]]; then
    env_set FAULTLINE_SYSTEM_URL_PREFIX "$url_prefix"
  else
    env_add FAULTLINE_SYSTEM_URL_PREFIX "http://localhost:$port" "http://localhost:$port"
  fi
  env_add FAULTLINE_SYSTEM_SECRET_KEY "$(random_hex 25)" "a new secret key"
  env_add POSTGRES_PASSWORD "$(random_hex 16)" "a new password"
  env_add CLICKHOUSE_PASSWORD "$(random_hex 16)" "a new password"
  env_add GRAFANA_ADMIN_PASSWORD "$(random_hex 12)" "a new password"
}

# Waits until each named service's container reports healthy.
wait_healthy() {
  local service id status deadline
  if $dry_run; then
    say "would wait until healthy: $*"
    return
  fi
  deadline=$((SECONDS + HEALTH_TIMEOUT_S))
  for service in "$@"; do
    printf 'waiting for %s ' "$service"
    while :; do
      id=$("${compose[@]}" ps -q "$service" 2>/dev/null || true)
      status=""
      if [[ -n $id ]]; then
        status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)
      fi
      if [[ $status == healthy ]]; then
        say "healthy"
        break
      fi
      if ((SECONDS >= deadline)); then
        say
        die "$service is not healthy after ${HEALTH_TIMEOUT_S} s (status: ${status:-not running}): see '${compose[*]} logs $service'"
      fi
      printf '.'
      sleep 3
    done
  done
}

# Reads the first user's email and password from the terminal.
prompt_user() {
  local again
  while [[ -z $email ]]; do
    read -r -p "Email of the first user, a superuser (empty to skip): " email || email=""
    [[ -n $email ]] || return 1
    if [[ $email != *@* ]]; then
      say "That is not an email address."
      email=""
    fi
  done
  while [[ -z $password ]]; do
    read -r -s -p "Password (8 characters or more): " password || password=""
    say
    if ((${#password} < 8)); then
      say "Too short."
      password=""
      continue
    fi
    read -r -s -p "Password again: " again || again=""
    say
    if [[ $again != "$password" ]]; then
      say "The passwords differ."
      password=""
    fi
  done
}

create_user() {
  local later="${compose[*]} run --rm web createuser --email you@example.com --password '…' --superuser --no-input"
  if $skip_user; then
    say "No user created (--skip-user-creation). Create one later with: $later"
    return
  fi
  if ! $no_input && [[ -t 0 ]] && [[ -z $email || -z $password ]]; then
    if $dry_run; then
      say "would ask for the first user's email and password"
      return
    fi
    if ! prompt_user; then
      say "No user created. Create one later with: $later"
      return
    fi
  fi
  if [[ -z $email || -z $password ]]; then
    say "No user created: without a terminal (or with --no-input) both --email and --password are needed. Create one later with: $later"
    return
  fi
  if $dry_run; then
    say "would run: ${compose[*]} run --rm -T --no-deps web createuser --email $email --password *** --superuser --no-input"
    return
  fi
  say "+ ${compose[*]} run --rm -T --no-deps web createuser --email $email --password *** --superuser --no-input"
  # The user may exist from an earlier run; that is not a failed install.
  if ! "${compose[@]}" run --rm -T --no-deps web createuser --email "$email" --password "$password" --superuser --no-input; then
    warn "could not create the user $email (see above; if it exists already, nothing is missing)"
  fi
}

# --- Main ------------------------------------------------------------------------

if $dry_run; then
  say "Faultline install, dry run: checks only, nothing is changed."
else
  say "Installing Faultline in $install_dir"
fi

say "Checking the machine:"
check_docker
check_compose
check_ram
check_cpus
check_disk
check_env_matches_data

if ((refused > 0)); then
  die "$refused check(s) failed; nothing was changed. Fix the above and run ./install.sh again."
fi

say "Configuration (.env):"
write_env
url=$(env_get FAULTLINE_SYSTEM_URL_PREFIX)
url=${url:-${url_prefix:-http://localhost:$DEFAULT_PORT}}

# Docker 20.10 and docker-compose v1 build with BuildKit (needed by the
# Dockerfile's cache mounts) only when asked to.
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1

say "Images:"
run "${compose[@]}" pull "${PULLED[@]}"
run "${compose[@]}" build

say "Servers and migrations:"
run "${compose[@]}" up -d "${SERVERS[@]}"
wait_healthy "${SERVERS[@]}"
run "${compose[@]}" run --rm -T --no-deps web upgrade --noinput

say "First user:"
create_user

if $dry_run; then
  say "Dry run finished: every check passed."
  exit 0
fi

grafana_port=$(env_get GRAFANA_PORT)
grafana_port=${grafana_port:-3000}

cat <<EOF

Faultline is installed. Start it with

  ${compose[*]} up -d

then open $url and sign in. SDKs and browsers use that address
(FAULTLINE_SYSTEM_URL_PREFIX in .env): if it is not how others reach this
machine, change it, or run ./install.sh --url-prefix URL, and then
'${compose[*]} up -d' again.

Grafana, with Faultline's dashboards, listens on http://127.0.0.1:$grafana_port
of this machine only: sign in as admin with GRAFANA_ADMIN_PASSWORD from .env.
EOF
