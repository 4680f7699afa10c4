"""The NAT boot script and self-check, run under bash against stub commands (no root, no AWS)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tradai_cdk.constructs.nat_boot import SELF_CHECK_SCRIPT, boot_script

ROOT = Path(__file__).resolve().parents[1]
SHELLCHECK = Path(sys.executable).parent / "shellcheck"
VPC_CIDR, EIP = "10.0.0.0/16", "203.0.113.10"
READY_TAG = "Key=tradai:nat-boot,Value=ready"
FAILED_TAG = "Key=tradai:nat-boot,Value=failed"

# Every stub appends "name args..." to $STUB_LOG; STUB_* variables steer the behaviour.
_COUNT = 'n=$(($(cat "$STUB_STATE/$1" 2>/dev/null || echo 0) + 1)); echo "$n" > "$STUB_STATE/$1"; echo "$n"'
STUBS = {
    # Fails its first $STUB_DNF_FAILS calls.
    "dnf": '(( $(count dnf) > ${STUB_DNF_FAILS:-0} ))',
    # create-tags ...Value=ready fails its first $STUB_READY_TAG_FAILS calls.
    "aws": 'if [[ $* == *Value=ready* ]]; then (( $(count ready) > ${STUB_READY_TAG_FAILS:-0} )); fi',
    "sysctl": 'if [[ $1 == -n ]]; then echo "${STUB_IP_FORWARD:-1}"; fi',
    "iptables": 'if [[ $* == *" -C "* ]]; then exit "${STUB_IPTABLES_CHECK_RC:-0}"; fi',
    "curl": '''[[ -z ${STUB_IMDS_DOWN:-} ]] || exit 7
case $* in
  *api/token*) printf token ;;
  *instance-id*) printf i-0123456789abcdef0 ;;
  *placement/region*) printf eu-west-1 ;;
  *public-ipv4*) printf %s "${STUB_PUBLIC_IP:-203.0.113.10}" ;;
  *) exit 22 ;;
esac''',
    "ip": 'echo "default via 10.0.0.1 dev ens5 proto dhcp src 10.0.0.10 metric 512"',
    "systemctl": "", "shutdown": "", "sleep": "",
}


@pytest.fixture
def stub_env(tmp_path) -> dict[str, str]:
    """Environment with the stubs first on PATH and NAT_ROOT at a scratch root."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/bash\necho "{name} $*" >> "$STUB_LOG"\ncount() {{ {_COUNT}; }}\n{body}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "NAT_ROOT": str(tmp_path / "root"),
            "STUB_LOG": str(tmp_path / "calls.log"), "STUB_STATE": str(state)}


def _run(script: Path, env: dict[str, str], **overrides: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run(["bash", str(script)], env={**env, **overrides},
                            capture_output=True, text=True, timeout=30)
    log = Path(env["STUB_LOG"])
    return result, log.read_text().splitlines() if log.exists() else []


def _composed(tmp_path: Path) -> Path:
    script = tmp_path / "user_data.sh"
    script.write_text("#!/bin/bash\n" + boot_script(vpc_cidr=VPC_CIDR, eip_address=EIP,
                                                   boot_tag_key="tradai:nat-boot",
                                                   ready_value="ready", failed_value="failed"))
    return script


def run_boot(tmp_path, stub_env, **overrides):
    return _run(_composed(tmp_path), stub_env, **overrides)


# --- boot ---------------------------------------------------------------------------------------

def test_happy_path_configures_verifies_installs_then_tags_ready_last(tmp_path, stub_env):
    result, calls = run_boot(tmp_path, stub_env)
    assert result.returncode == 0, result.stderr
    assert "tradai-nat: ready" in result.stderr

    root = Path(stub_env["NAT_ROOT"])
    sysctl_conf = root / "etc/sysctl.d/90-tradai-nat.conf"
    ready = calls.index(f"aws ec2 create-tags --region eu-west-1 --resources i-0123456789abcdef0 --tags {READY_TAG}")
    for step in (f"sysctl -p {sysctl_conf}", "dnf install -y iptables-services", "systemctl enable iptables",
                 "systemctl restart iptables", "sysctl -n net.ipv4.ip_forward",
                 f"iptables -t nat -C POSTROUTING -o ens5 -s {VPC_CIDR} -j MASQUERADE",
                 "systemctl daemon-reload", "systemctl enable --now tradai-nat-self-check.timer"):
        assert calls.index(step) < ready, step
    assert [call for call in calls if call.startswith("aws ")] == [calls[ready]]  # no EIP / attribute calls
    assert not any(call.startswith(("shutdown", "sleep")) for call in calls)

    conf = sysctl_conf.read_text().splitlines()
    assert "net.ipv4.ip_forward = 1" in conf
    for scope in ("all", "default"):
        for redirects in ("send_redirects", "accept_redirects"):
            assert f"net.ipv4.conf.{scope}.{redirects} = 0" in conf
    masquerades = [line for line in (root / "etc/sysconfig/iptables").read_text().splitlines() if "MASQUERADE" in line]
    assert masquerades == [f"-A POSTROUTING -o ens5 -s {VPC_CIDR} -j MASQUERADE"]
    assert (root / "etc/tradai-nat.env").read_text().splitlines() == [
        f"VPC_CIDR={VPC_CIDR}", f"EIP_ADDRESS={EIP}", "IFACE=ens5"]

    self_check = root / "usr/local/sbin/tradai-nat-self-check"
    assert self_check.read_text() == SELF_CHECK_SCRIPT.read_text()
    assert self_check.stat().st_mode & 0o777 == 0o755
    units = root / "etc/systemd/system"
    service = (units / "tradai-nat-self-check.service").read_text()
    assert "Type=oneshot" in service and "ExecStart=/usr/local/sbin/tradai-nat-self-check" in service
    timer = (units / "tradai-nat-self-check.timer").read_text().splitlines()
    assert {"OnActiveSec=300", "OnUnitActiveSec=30", "AccuracySec=5", "WantedBy=timers.target"} <= set(timer)


def test_dnf_failing_twice_is_retried_with_backoff(tmp_path, stub_env):
    result, calls = run_boot(tmp_path, stub_env, STUB_DNF_FAILS="2")
    assert result.returncode == 0, result.stderr
    assert calls.count("dnf install -y iptables-services") == 3
    assert [call for call in calls if call.startswith("sleep")] == ["sleep 2", "sleep 4"]
    assert any(READY_TAG in call for call in calls)
    assert "attempt 1/5 failed" in result.stderr


def test_dnf_always_failing_tags_failed_once_and_powers_off(tmp_path, stub_env):
    result, calls = run_boot(tmp_path, stub_env, STUB_DNF_FAILS="99")
    assert result.returncode != 0
    assert calls.count("dnf install -y iptables-services") == 5
    assert [call for call in calls if call.startswith("sleep")] == ["sleep 2", "sleep 4", "sleep 8", "sleep 16"]
    failed_tags = [call for call in calls if FAILED_TAG in call]
    assert len(failed_tags) == 1 and "--region eu-west-1 --resources i-0123456789abcdef0" in failed_tags[0]
    assert not any("Value=ready" in call for call in calls)
    assert calls[-1] == "shutdown -h now"
    assert "tradai-nat: FAILED: cannot install iptables-services" in result.stderr
    assert not any(call.startswith("systemctl") for call in calls)  # stopped at the failure


@pytest.mark.parametrize("overrides", [{"STUB_IP_FORWARD": "0"}, {"STUB_IPTABLES_CHECK_RC": "1"}],
                         ids=["ip_forward_off", "masquerade_rule_missing"])
def test_failed_forwarding_verification_never_tags_ready(tmp_path, stub_env, overrides):
    result, calls = run_boot(tmp_path, stub_env, **overrides)
    assert result.returncode != 0
    assert not any("Value=ready" in call for call in calls)
    assert sum(FAILED_TAG in call for call in calls) == 1
    assert "tradai-nat-self-check.timer" not in "\n".join(calls)
    assert calls[-1] == "shutdown -h now"


def test_ready_tag_never_succeeding_is_retried_then_powers_off(tmp_path, stub_env):
    result, calls = run_boot(tmp_path, stub_env, STUB_READY_TAG_FAILS="99")
    assert result.returncode != 0
    assert sum(READY_TAG in call for call in calls) == 5
    assert [call for call in calls if call.startswith("sleep")] == ["sleep 2", "sleep 4", "sleep 8", "sleep 16"]
    assert FAILED_TAG in calls[-2] and calls[-1] == "shutdown -h now"
    assert "tradai-nat: ready" not in result.stderr


def test_unreachable_imds_powers_off_without_aws_calls(tmp_path, stub_env):
    result, calls = run_boot(tmp_path, stub_env, STUB_IMDS_DOWN="1")
    assert result.returncode != 0
    assert "FAILED: no IMDSv2 token" in result.stderr
    assert not any(call.startswith(("aws", "dnf")) for call in calls)
    assert calls[-1] == "shutdown -h now"


# --- self-check ---------------------------------------------------------------------------------

@pytest.fixture
def self_check(stub_env):
    """Runs the self-check against an env file like the boot script writes; returns (result, calls, counter)."""
    root = Path(stub_env["NAT_ROOT"])
    (root / "etc").mkdir(parents=True)
    (root / "etc/tradai-nat.env").write_text(f"VPC_CIDR={VPC_CIDR}\nEIP_ADDRESS={EIP}\nIFACE=ens5\n")
    counter = root / "run/tradai-nat-self-check.failures"

    def run(**overrides):
        Path(stub_env["STUB_LOG"]).unlink(missing_ok=True)
        result, calls = _run(SELF_CHECK_SCRIPT, stub_env, **overrides)
        return result, calls, int(counter.read_text())
    return run


def test_self_check_passes(self_check):
    result, calls, failures = self_check()
    assert (result.returncode, failures) == (0, 0), result.stderr
    assert f"iptables -t nat -C POSTROUTING -o ens5 -s {VPC_CIDR} -j MASQUERADE" in calls
    assert "shutdown -h now" not in calls


def test_self_check_powers_off_on_the_third_consecutive_failure(self_check):
    for expected in (1, 2):
        result, calls, failures = self_check(STUB_IP_FORWARD="0")
        assert (result.returncode, failures) == (1, expected)
        assert "shutdown -h now" not in calls
    result, calls, failures = self_check(STUB_IPTABLES_CHECK_RC="1")
    assert (result.returncode, failures) == (1, 3)
    assert "MASQUERADE rule for 10.0.0.0/16 on ens5 is missing" in result.stderr
    assert calls[-1] == "shutdown -h now"


def test_self_check_success_resets_the_counter(self_check):
    self_check(STUB_IP_FORWARD="0")
    self_check(STUB_IP_FORWARD="0")
    assert self_check()[2] == 0
    result, calls, failures = self_check(STUB_IP_FORWARD="0")
    assert failures == 1 and "shutdown -h now" not in calls


def test_self_check_counts_a_foreign_public_ip_as_a_failure(self_check):
    result, _, failures = self_check(STUB_PUBLIC_IP="198.51.100.7")
    assert (result.returncode, failures) == (1, 1)
    assert "public IPv4 is '198.51.100.7', not the EIP 203.0.113.10" in result.stderr


# --- shellcheck ---------------------------------------------------------------------------------

def _shellcheck(path: Path) -> None:
    result = subprocess.run([str(SHELLCHECK), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_composed_boot_script_is_shellcheck_clean(tmp_path):
    _shellcheck(_composed(tmp_path))


_TRACKED = subprocess.run(["git", "ls-files", "*.sh"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()


@pytest.mark.parametrize("script", sorted({*_TRACKED, str(SELF_CHECK_SCRIPT.relative_to(ROOT))}))
def test_shell_scripts_are_shellcheck_clean(script):
    _shellcheck(ROOT / script)
