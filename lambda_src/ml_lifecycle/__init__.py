"""ML lifecycle functions: drift, retraining, comparison, promotion and rollback of MLflow models (spec 7)."""
