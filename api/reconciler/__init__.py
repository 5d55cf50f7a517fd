"""The reconciler: the database says what work is owed, and lost jobs are enqueued again.

A worker killed mid-job leaves its photo in `indexing`, and an enqueue that
failed after a commit leaves a row `pending` with no job (or an owed rematch, or an
owed recomputation after deleted face data, `forgets_owed`). Both are found here
by age and re-enqueued under their deterministic job ids, so work already
queued or running is never doubled. A row that keeps killing its worker is
marked failed after `MAX_JOB_ATTEMPTS`.

It runs as its own process (`facematch reconcile --forever`; the chart's
`reconciler` Deployment, a child of `facematch-dev up`), so it runs with no API
pod up, and any number of them take turns by an advisory lock.
"""
