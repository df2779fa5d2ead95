"""The cluster view (`kvmcluster status --cluster`, `check_kvmcluster`): every node read at
once, and what only a view across nodes sees."""
