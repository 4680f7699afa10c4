#!/bin/bash
# NAT self-check, run every 30 s by tradai-nat-self-check.timer (installed by the boot script).
# Verifies forwarding, the MASQUERADE rule and that this instance holds the EIP. After 3
# consecutive failed runs it powers off; the instance then terminates and the ASG replaces it.
# Exits 0 when every check passes, 1 otherwise.
set -uo pipefail

ROOT=${NAT_ROOT:-}
NAT_ENV=$ROOT/etc/tradai-nat.env
FAILURES_FILE=$ROOT/run/tradai-nat-self-check.failures
MAX_FAILURES=3
IMDS=http://169.254.169.254/latest

log() { echo "tradai-nat: self-check: $*" >&2; }

public_ipv4() {
  local token
  token=$(curl -sf --max-time 5 -X PUT "$IMDS/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') || return 1
  curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $token" "$IMDS/meta-data/public-ipv4"
}

VPC_CIDR='' EIP_ADDRESS='' IFACE=''
problems=()
# shellcheck source=/dev/null
if ! . "$NAT_ENV" || [[ -z $VPC_CIDR || -z $EIP_ADDRESS || -z $IFACE ]]; then
  problems+=("$NAT_ENV is missing or incomplete")
else
  [[ $(sysctl -n net.ipv4.ip_forward) == 1 ]] || problems+=("net.ipv4.ip_forward is not 1")
  iptables -t nat -C POSTROUTING -o "$IFACE" -s "$VPC_CIDR" -j MASQUERADE \
    || problems+=("MASQUERADE rule for $VPC_CIDR on $IFACE is missing")
  public_ip=$(public_ipv4)
  [[ $public_ip == "$EIP_ADDRESS" ]] || problems+=("public IPv4 is '$public_ip', not the EIP $EIP_ADDRESS")
fi

failures=0
if [[ -r $FAILURES_FILE ]]; then
  failures=$(<"$FAILURES_FILE")
  [[ $failures =~ ^[0-9]+$ ]] || failures=0
fi
mkdir -p "${FAILURES_FILE%/*}"

if ((${#problems[@]} == 0)); then
  ((failures == 0)) || log "all checks pass again after $failures failed run(s)"
  echo 0 > "$FAILURES_FILE"
  exit 0
fi

failures=$((failures + 1))
echo "$failures" > "$FAILURES_FILE"
for problem in "${problems[@]}"; do
  log "check failed ($failures/$MAX_FAILURES consecutive): $problem"
done
if ((failures >= MAX_FAILURES)); then
  log "$failures consecutive failed runs; powering off so the ASG replaces this instance"
  shutdown -h now
fi
exit 1
