"""The fault suite (`make chaos`): nothing lost, nothing doubled, under load, whatever breaks.

Harness API (reusable by any scenario, e.g. the three-broker cluster's in griddispatch/infra/cluster.py):

    from chaos.harness import Harness, Target
    from chaos.supervisor import Supervisor, ServiceProcess, serve_command
    from chaos.ledger import check, gather, Snapshot, Violation

* `Target(bootstrap_servers, db_url, topic_prefix)`: where the services and the checks point. Nothing in the
  harness starts or stops a broker or database by itself: a scenario owns its infrastructure.
* `Supervisor(env, workdir, ports, launch=serve_command)`: N processes per service.
  `launch(service, port, worker_id) -> argv` is the process-starting callable (default
  `griddispatch serve NAME --port P --worker-id W`). `start(service, count)`, `kill(proc)` (SIGKILL to its
  process group), `pause(proc)` / `resume(proc)` (SIGSTOP / SIGCONT), `restart(proc)`, `wait_ready(procs)`,
  `stop_all()` (always call it, in a finally). `Supervisor.env_for(target)` builds the services' environment.
* `Harness(target, supervisor)` (async context manager): imports the sample registry, creates an API client
  and a webhook subscription to its own receiver, runs the load driver. Inside it:
    `await h.load_for(seconds)`            steady open-loop load (reports, accepts, due deadlines)
    `await h.fault(name, action, heal)`    runs `action()` (async), load continues, then `heal()`; records
                                           the recovery time (until every report accepted before the heal
                                           is assigned) and `notes=` the action filled (e.g. in_flight)
    `h.load.burst(n)`                      a flood of n reports at once, beside the steady load
    `h.add_check(extra)`                   a check of the scenario's own the drain waits for (e.g.
                                           chaos.poison.DeadLetterCheck: the dead-letter topic)
    `await h.drain()`                      waits until everything is dispatched, fired, delivered
    `result = await h.check(scenario)`     the ledger: `result.violations` (empty = pass), `result.line()`
* `chaos.ledger.check(snapshot) -> list[Violation]` is pure; `gather(...)` reads the database and receiver.
* `chaos.scenarios.run_scenario(name, target, workdir, settings, infra=None, ports=..., env_extra=None,
  inspect=None, fault=None) -> Result`: all of the above in one call: migrations and registry, `settings.processes`
  of each service started and ready, `fault(harness, infra, supervisor, settings)` under load (default: the
  named scenario of `SCENARIOS`), drain, ledger, every process stopped. A scenario with its own infrastructure
  (e.g. three brokers) passes its own `Target`, `env_extra` (e.g. GRIDDISPATCH_KAFKA_REPLICATION_FACTOR=3) and
  `fault`; `chaos.scenarios.create_database(admin_url, name)` gives it a fresh database.

Scenarios live in `chaos/scenarios.py`; `python -m chaos --scenarios kill9,poison` runs them (see docs/chaos.md).
"""
