"""Development and operator tooling: the local stack with its embedded services
(`facematch-dev up`), cluster status and the in-cluster load-test launcher.

Nothing here runs in production, and neither image copies this folder. It
runs from a checkout: the load-test launcher reads `k8s/loadtest/locust.yaml`.
"""
