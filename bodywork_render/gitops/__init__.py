"""GitOps: the source commit, publishing to and refreshing a deployment repository, bootstrap objects."""
