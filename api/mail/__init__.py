"""Mail: the outbox the API and the reconciler write, the templates, and local mode's catcher
page. Workers send (workers/jobs/mail.py)."""
