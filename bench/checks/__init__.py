"""The checks: verdicts on a change, REGRESSED or passed, that a CI job can fail on.

baseline.py holds a run against a committed baseline file (`gan-bench check RUN_DIR
--baseline FILE`); ab_check.py times a base commit and the working tree on one machine, in
turn (`gan-bench check --base REF`), with the power of its rule from ab_power.py. A check
writes its verdicts as a table (check.csv, ab-check.csv) that the report's summary reads
from the folder: the report never imports a check.
"""
