"""Tables that stop growing: what each service may forget, and when (policy.py), and the supervised task that
forgets it in small batches (pruner.py). The case history (cases, case_events, deadlines) is kept forever."""
