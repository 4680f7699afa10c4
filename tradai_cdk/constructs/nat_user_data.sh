# shellcheck shell=bash
# NAT instance boot (Amazon Linux 2023, run once as root by cloud-init). nat_boot.boot_script()
# sets VPC_CIDR, EIP_ADDRESS, BOOT_TAG_KEY, READY_VALUE, FAILED_VALUE and SELF_CHECK above this.
# Configures and verifies forwarding, installs the self-check timer and, as the very last step,
# tags the instance ready. Any failure tags it failed (best effort) and powers it off; the launch
# template terminates on shutdown, so the ASG replaces it. Source/dest check and the EIP are the
# route Lambda's job. Paths sit under ${NAT_ROOT:-} (empty in production) so tests can run this.
set -uo pipefail

ROOT=${NAT_ROOT:-}
IMDS=http://169.254.169.254/latest
SYSCTL_CONF=$ROOT/etc/sysctl.d/90-tradai-nat.conf
IPTABLES_RULES=$ROOT/etc/sysconfig/iptables
NAT_ENV=$ROOT/etc/tradai-nat.env
SELF_CHECK_BIN=$ROOT/usr/local/sbin/tradai-nat-self-check
UNIT_DIR=$ROOT/etc/systemd/system
INSTANCE_ID=
REGION=

log() { echo "tradai-nat: $*" >&2; }

# retry <max_attempts> <command...>: back off 2, 4, 8... seconds between attempts.
retry() {
  local max=$1 attempt=1 delay=2
  shift
  until "$@"; do
    if ((attempt >= max)); then
      log "giving up after $max attempts: $*"
      return 1
    fi
    log "attempt $attempt/$max failed, retrying in ${delay}s: $*"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

# Log, tag failed (one short attempt), power off and stop: nothing may tag ready afterwards.
fail() {
  trap - EXIT
  log "FAILED: $*"
  if [[ -n $INSTANCE_ID && -n $REGION ]]; then
    AWS_MAX_ATTEMPTS=1 timeout 20 aws ec2 create-tags --region "$REGION" --resources "$INSTANCE_ID" \
      --tags "Key=$BOOT_TAG_KEY,Value=$FAILED_VALUE" --cli-connect-timeout 5 --cli-read-timeout 5 \
      || log "could not tag $BOOT_TAG_KEY=$FAILED_VALUE"
  fi
  log "powering off; the ASG replaces this instance"
  shutdown -h now
  exit 1
}
# Any other exit before the ready tag (e.g. an unset variable) is a failure too.
trap 'fail "boot script exited unexpectedly (status $?)"' EXIT

imds() { curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/meta-data/$1"; }

TOKEN=$(retry 5 curl -sf --max-time 5 -X PUT "$IMDS/api/token" \
  -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600') || fail "no IMDSv2 token"
INSTANCE_ID=$(retry 5 imds instance-id) || fail "no instance-id from IMDS"
REGION=$(retry 5 imds placement/region) || fail "no region from IMDS"
[[ -n $TOKEN && -n $INSTANCE_ID && -n $REGION ]] || fail "empty IMDS response"
log "configuring $INSTANCE_ID in $REGION to NAT $VPC_CIDR"

# Forward packets (persisted across reboots); a NAT must not send or accept ICMP redirects.
mkdir -p "${SYSCTL_CONF%/*}" || fail "cannot create ${SYSCTL_CONF%/*}"
cat > "$SYSCTL_CONF" <<'SYSCTL' || fail "cannot write $SYSCTL_CONF"
net.ipv4.ip_forward = 1
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
SYSCTL
sysctl -p "$SYSCTL_CONF" || fail "sysctl -p $SYSCTL_CONF failed"

# Masquerade only the VPC's traffic on the primary interface; iptables-services restores the
# rules at boot. Filtering is the security group's job, so the filter table accepts.
retry 5 dnf install -y iptables-services || fail "cannot install iptables-services"
IFACE=$(ip route show default | awk '{print $5; exit}')
[[ -n $IFACE ]] || fail "no default route interface"
mkdir -p "${IPTABLES_RULES%/*}" || fail "cannot create ${IPTABLES_RULES%/*}"
cat > "$IPTABLES_RULES" <<RULES || fail "cannot write $IPTABLES_RULES"
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o $IFACE -s $VPC_CIDR -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
RULES
systemctl enable iptables || fail "cannot enable iptables"
systemctl restart iptables || fail "cannot restart iptables"

# Settings for the self-check.
mkdir -p "${NAT_ENV%/*}" || fail "cannot create ${NAT_ENV%/*}"
cat > "$NAT_ENV" <<ENV || fail "cannot write $NAT_ENV"
VPC_CIDR=$VPC_CIDR
EIP_ADDRESS=$EIP_ADDRESS
IFACE=$IFACE
ENV

# Verify before signalling anything.
[[ $(sysctl -n net.ipv4.ip_forward) == 1 ]] || fail "net.ipv4.ip_forward is not 1"
iptables -t nat -C POSTROUTING -o "$IFACE" -s "$VPC_CIDR" -j MASQUERADE \
  || fail "MASQUERADE rule for $VPC_CIDR on $IFACE is missing"

# Keep verifying every 30 s once the route Lambda has had time to attach the EIP.
mkdir -p "${SELF_CHECK_BIN%/*}" "$UNIT_DIR" || fail "cannot create the self-check directories"
printf '%s\n' "$SELF_CHECK" > "$SELF_CHECK_BIN" || fail "cannot write $SELF_CHECK_BIN"
chmod 0755 "$SELF_CHECK_BIN" || fail "cannot chmod $SELF_CHECK_BIN"
cat > "$UNIT_DIR/tradai-nat-self-check.service" <<'UNIT' || fail "cannot write the self-check service"
[Unit]
Description=TradAI NAT forwarding self-check

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/tradai-nat-self-check
UNIT
cat > "$UNIT_DIR/tradai-nat-self-check.timer" <<'UNIT' || fail "cannot write the self-check timer"
[Unit]
Description=Run the TradAI NAT self-check every 30 s

[Timer]
OnActiveSec=300
OnUnitActiveSec=30
AccuracySec=5

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload || fail "systemctl daemon-reload failed"
systemctl enable --now tradai-nat-self-check.timer || fail "cannot enable the self-check timer"

# Last: tell the route Lambda this instance is ready to take the EIP and the routes.
retry 5 aws ec2 create-tags --region "$REGION" --resources "$INSTANCE_ID" \
  --tags "Key=$BOOT_TAG_KEY,Value=$READY_VALUE" || fail "cannot tag $BOOT_TAG_KEY=$READY_VALUE"
trap - EXIT
log "ready"
