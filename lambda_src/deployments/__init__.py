"""Strategy deployments: stage into dry-run trading, promote to live, roll back (spec 2.2, 2.3, 3.2, 5.1)."""
