"""Deploy the CDK stage TradaiDev into a local moto emulator and check it against the config.

``python -m local_emulator [deploy [--keep] | destroy]``; see ``deploy.py``.
"""

from pathlib import Path

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ENV_NAME = "dev"
STAGE = "TradaiDev"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / ".local-emulator"
