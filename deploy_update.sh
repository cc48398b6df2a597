#!/usr/bin/env bash
# Update a running dealsite in place: pull (fast-forward only), install the pins, migrate,
# collect static files, force a recharge (so a restart cannot livelock on a half-empty
# bucket), make sure the job chains exist, restart the services, then run diagnostics.
# Idempotent; never flushes Redis (the bucket and pause flag live there).
#
#   ./deploy_update.sh [--dry-run]
#
# Environment: DEALSITE_DIR (repo, default: this script's directory), DEALSITE_PYTHON
# (venv python, default: $DEALSITE_DIR/.venv/bin/python), SYSTEMCTL (default: systemctl),
# DEALSITE_WEB_UNIT, DEALSITE_WORKER_UNITS (space-separated), DEALSITE_CRON_UNIT,
# DEALSITE_ENV_FILE (the units' environment, default: /etc/dealsite/dealsite.env; when it
# exists its variables are exported, so manage.py runs with the settings the services use).
# -E: the ERR trap also fires inside step(), so the message names the failed step.
set -Eeuo pipefail

DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "deploy_update.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

DEALSITE_DIR="${DEALSITE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
DEALSITE_PYTHON="${DEALSITE_PYTHON:-$DEALSITE_DIR/.venv/bin/python}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
DEALSITE_WEB_UNIT="${DEALSITE_WEB_UNIT:-dealsite-web.service}"
DEALSITE_WORKER_UNITS="${DEALSITE_WORKER_UNITS:-dealsite-worker@1.service}"
DEALSITE_CRON_UNIT="${DEALSITE_CRON_UNIT:-dealsite-cron.service}"
DEALSITE_ENV_FILE="${DEALSITE_ENV_FILE:-/etc/dealsite/dealsite.env}"

STEP="start"
trap 'echo "deploy_update.sh: FAILED at step \"$STEP\" (exit $?); later steps were not run" >&2' ERR

step() {
    STEP="$1"
    shift
    echo "==> $STEP: $*"
    if [ "$DRY_RUN" -eq 0 ]; then
        "$@"
    fi
}

# DEBUG is off unless set and SECRET_KEY is then required: without the units' environment,
# manage.py refuses to start rather than migrate some other database.
if [ -e "$DEALSITE_ENV_FILE" ]; then
    STEP="environment"
    echo "==> environment: $DEALSITE_ENV_FILE"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in "" | "#"* | ";"*) continue ;; esac
        export "$line"
    done <"$DEALSITE_ENV_FILE"
fi

cd "$DEALSITE_DIR"
step "pull" git pull --ff-only
step "install" "$DEALSITE_PYTHON" -m pip install --quiet -r requirements.txt
step "migrate" "$DEALSITE_PYTHON" manage.py migrate --noinput
step "collectstatic" "$DEALSITE_PYTHON" manage.py collectstatic --noinput
step "force_pause" "$DEALSITE_PYTHON" manage.py force_pause --reason deploy --actor deploy
step "schedule_jobs" "$DEALSITE_PYTHON" manage.py schedule_jobs
# shellcheck disable=SC2086 # unit lists are space-separated on purpose
step "restart" "$SYSTEMCTL" restart $DEALSITE_WORKER_UNITS "$DEALSITE_WEB_UNIT" "$DEALSITE_CRON_UNIT"
step "diagnose" "$DEALSITE_PYTHON" manage.py diagnose --no-keepa
STEP="done"
echo "==> deploy complete"
