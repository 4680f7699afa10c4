# NAT instance bootstrap (Amazon Linux 2023). ALLOCATION_ID is set above this line.
set -euxo pipefail
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
imds() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }
INSTANCE_ID=$(imds instance-id)
REGION=$(imds placement/region)

# Forward packets, persisted across reboots.
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl -p /etc/sysctl.d/90-nat.conf

# Masquerade on the primary interface; iptables-services restores the rules at boot.
dnf install -y iptables-services
IFACE=$(ip route show default | awk '{print $5; exit}')
cat > /etc/sysconfig/iptables <<RULES
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o $IFACE -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
RULES
systemctl enable --now iptables
systemctl restart iptables

# A NAT must not drop traffic addressed to others; then take the static EIP.
aws ec2 modify-instance-attribute --region "$REGION" --instance-id "$INSTANCE_ID" --no-source-dest-check
aws ec2 associate-address --region "$REGION" --instance-id "$INSTANCE_ID" \
  --allocation-id "$ALLOCATION_ID" --allow-reassociation
