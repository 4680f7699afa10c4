"""`make bench`: synth, test, import and template-limit figures of the app (issue 19); entry point bench/run.py."""
