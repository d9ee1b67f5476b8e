"""The report: a run's records read back and shown; nothing here runs a job or judges one.

pages.py writes report.md and report.html (and the tables as CSV or Parquet), opening with
the summary (summary.py) and the frameworks compared (comparison.py), then each suite's
tables and figures; history.py follows metrics across run folders; benchmark_json.py writes
pytest-benchmark's JSON. Every table goes through formatting.py; the suites draw with
figures.py and pick their records with tables.py.
"""
