"""The worker's jobs, by domain. RQ finds each by its name in `workers.tasks`, the registry
every queued job names (core/queue.py builds the specs); a job here loads its rows by id,
does its work, and writes the results.

Every job is idempotent: the database row's status says whether work is owed, results
replace earlier ones in a single transaction, and matches are upserts.
"""
