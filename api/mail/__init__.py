"""Mail: the outbox (`service`: compose a mail into a row, its job enqueued after the
commit), the templates, and local mode's catcher page. What to mail is each feature's
own (sign-in links, digests, notices); workers send (workers/jobs/mail.py)."""
