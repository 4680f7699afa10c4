"""Names shared by the ML lifecycle constructs (compute stack), the retraining workflow and its handlers.

MLflow conventions (the strategy container follows them when it trains and backtests):
- A registered model's ``strategy`` tag names the strategy class it serves (default: the model name).
- The production version carries the alias CHAMPION_ALIAS (MLflow 2.x aliases).
- A version trained by a retraining run carries the tag ``job_id`` = the run's retraining_id; a shadow
  backtest run carries the run tag ``job_id`` = its test_id.
- Scores are the source run's metric PERFORMANCE_METRIC; higher is better.

Drift inputs in the results bucket (JSON written by the strategy container):
- ``drift/<model_name>/v<version>/reference.json``: the training data's feature histograms.
- ``drift/<model_name>/current.json``: recent live/dry-run feature histograms and observed performance.
  Shape: {"generated_at": iso, "features": {"<feature>": {"edges": [...], "counts": [...]}},
          "performance": {"<metric>": number}}
"""

SERVICE = "ml-lifecycle"
METRICS_NAMESPACE = "TradAI/Models"
METRIC_MODELS_DRIFTED = "ModelsDrifted"  # drift-monitor: models flagged in this run

ENV_MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"  # http://mlflow.tradai-<env>.local:5000/mlflow
ENV_MLFLOW_CREDENTIALS_SECRET_ARN = "MLFLOW_CREDENTIALS_SECRET_ARN"  # JSON {"username", "password"}: basic auth
ENV_CHAMPION_ALIAS = "CHAMPION_ALIAS"
ENV_PERFORMANCE_METRIC = "PERFORMANCE_METRIC"
ENV_ENVIRONMENT = "TRADAI_ENV"
ENV_STATE_TTL_DAYS = "STATE_TTL_DAYS"  # expires_at of drift, retraining and shadow-test items
ENV_DRIFT_TABLE = "DRIFT_STATE_TABLE"
ENV_RETRAINING_TABLE = "RETRAINING_STATE_TABLE"
ENV_SHADOW_TABLE = "SHADOW_TEST_STATE_TABLE"
ENV_DEPLOYMENTS_TABLE = "DEPLOYMENTS_TABLE"
ENV_ROLLBACK_TABLE = "ROLLBACK_STATE_TABLE"
ENV_RESULTS_BUCKET = "RESULTS_BUCKET"
ENV_PSI_THRESHOLD = "DRIFT_PSI_THRESHOLD"  # data drift: max feature PSI above this flags the model
ENV_PERFORMANCE_DROP_THRESHOLD = "PERFORMANCE_DROP_THRESHOLD"  # model drift: relative score drop above this
ENV_MAX_MODEL_AGE_DAYS = "MAX_MODEL_AGE_DAYS"  # a champion older than this is retrained
ENV_MIN_IMPROVEMENT = "MIN_IMPROVEMENT"  # relative score gain a challenger needs over the champion
ENV_SHADOW_WINDOW_DAYS = "SHADOW_WINDOW_DAYS"  # out-of-sample window of the shadow backtest
ENV_DEPLOYMENT_TTL_DAYS = "DEPLOYMENT_TTL_DAYS"
ENV_RETRAINING_STATE_MACHINE_ARN = "RETRAINING_STATE_MACHINE_ARN"
ENV_SCHEDULE_WINDOW_HOURS = "SCHEDULE_WINDOW_HOURS"  # one execution per model per window

MODEL_TAG_STRATEGY = "strategy"
VERSION_TAG_JOB_ID = "job_id"
VERSION_TAG_PREVIOUS_CHAMPION = "tradai.previous_champion"
RUN_TAG_JOB_ID = "job_id"
DRIFT_PREFIX = "drift"

# tradai-retraining-state status of a model's latest retraining run (conditional on its retraining_id).
SCHEDULED, NOT_NEEDED, TRAINING, SHADOW_TESTING = "SCHEDULED", "NOT_NEEDED", "TRAINING", "SHADOW_TESTING"
PROMOTED, REJECTED, FAILED = "PROMOTED", "REJECTED", "FAILED"
RETRAINING_TERMINAL = frozenset({NOT_NEEDED, PROMOTED, REJECTED, FAILED})
# tradai-shadow-test-state status; status_created_at = "<status>#<created_at>" (GSI range key).
SHADOW_RUNNING, SHADOW_PASSED, SHADOW_FAILED = "RUNNING", "PASSED", "FAILED"

# Error name (exception class) of a transient MLflow failure (no response, HTTP 429/5xx): the one MLflow error
# a Step Functions Retry should match; every other MlflowError is permanent.
MLFLOW_UNAVAILABLE_ERROR = "MlflowUnavailable"

# tradai-drift-state status of a model's latest check (the item also carries drifted: bool).
DRIFT_OK, DRIFT_DETECTED, DRIFT_INSUFFICIENT_DATA = "OK", "DRIFTED", "INSUFFICIENT_DATA"

# compare-models phases.
PHASE_CANDIDATE, PHASE_SHADOW = "candidate", "shadow"

# The strategy container's TRADING_MODE for the two ECS steps of the retraining workflow (spec 2.5).
TRAIN_MODE, SHADOW_MODE = "train", "backtest"
ENV_MODEL_VERSION_OVERRIDE = "MODEL_VERSION"  # the shadow backtest's model version (container override)

# retraining-scheduler: a non-terminal retraining of another window not updated for this long is abandoned
# (replaced by the new window's); default 24 h.
ENV_RETRAINING_STALE_AFTER_HOURS = "RETRAINING_STALE_AFTER_HOURS"
# Error names (exception class names) the retraining functions raise; none is worth a retry.
STALE_RETRAINING_ERROR = "StaleRetraining"  # the retraining-state item belongs to another retraining_id
NO_CHALLENGER_ERROR = "NoChallenger"  # training registered no version tagged job_id=<retraining_id>
NO_SHADOW_RUN_ERROR = "NoShadowRun"  # the shadow backtest logged no run tagged job_id=<test_id>
SHADOW_TEST_NOT_FOUND_ERROR = "ShadowTestNotFound"  # compare-models shadow phase without a candidate item
