"""Wrong answers to ``01.capacity``, each one a mistake a learner could make."""

import math


def workers_times_service(workers, service_time_s, think_time_s=0.0):
    return workers * service_time_s, workers * (service_time_s + think_time_s) / service_time_s


def ignores_workers(workers, service_time_s, think_time_s=0.0):
    return 1 / service_time_s, workers * (service_time_s + think_time_s) / service_time_s


def milliseconds_confusion(workers, service_time_s, think_time_s=0.0):
    return workers / (service_time_s * 1000), workers * (service_time_s + think_time_s) / service_time_s


def knee_ignores_think_time(workers, service_time_s, think_time_s=0.0):
    return workers / service_time_s, float(workers)


def knee_from_think_time_only(workers, service_time_s, think_time_s=0.0):
    return workers / service_time_s, workers * think_time_s / service_time_s


def knee_adds_instead_of_scaling(workers, service_time_s, think_time_s=0.0):
    return workers / service_time_s, workers + think_time_s / service_time_s


def swapped(workers, service_time_s, think_time_s=0.0):
    return workers * (service_time_s + think_time_s) / service_time_s, workers / service_time_s


def only_throughput(workers, service_time_s, think_time_s=0.0):
    return workers / service_time_s


def returns_none(workers, service_time_s, think_time_s=0.0):
    workers / service_time_s


def memorised_examples(workers, service_time_s, think_time_s=0.0):
    """Right on every worked example the checker might list, wrong everywhere else."""
    table = {
        (1, 0.1, 0.0): (10.0, 1.0),
        (8, 0.01, 0.0): (800.0, 8.0),
        (4, 0.05, 0.15): (80.0, 16.0),
        (16, 0.002, 0.0): (8000.0, 16.0),
        (2, 0.1, 0.9): (20.0, 20.0),
        (3, 0.25, 0.25): (12.0, 6.0),
    }
    return table.get((workers, service_time_s, think_time_s), (1.0, 1.0))


def loops_forever(workers, service_time_s, think_time_s=0.0):
    """A loop whose exit condition never changes (doubling zero): the checker must stop it and say so."""
    throughput = 0.0
    while throughput < workers / service_time_s:
        throughput *= 2
    return throughput, float(workers)


def throughput_truncated(workers, service_time_s, think_time_s=0.0):
    """Right formulas, but int() on the throughput: 42.86 req/s becomes 42."""
    return float(int(workers / service_time_s)), workers * (service_time_s + think_time_s) / service_time_s


def knee_rounded_up(workers, service_time_s, think_time_s=0.0):
    """Rounds the knee up to whole users: 8.33 becomes 9 (an estimate, not a head count)."""
    return workers / service_time_s, float(math.ceil(workers * (service_time_s + think_time_s) / service_time_s))


def ignores_the_database(workers, service_time_s, think_time_s=0.0, db_qps=None):
    """The workers' ceiling, whatever the database can take."""
    return workers / service_time_s, workers * (service_time_s + think_time_s) / service_time_s


def the_faster_ceiling(workers, service_time_s, think_time_s=0.0, db_qps=None):
    """max() where min() is meant: the server as fast as its faster part."""
    top = workers / service_time_s if db_qps is None else max(workers / service_time_s, db_qps)
    return top, top * (service_time_s + think_time_s)


def knee_from_the_workers(workers, service_time_s, think_time_s=0.0, db_qps=None):
    """The right ceiling, but the knee where the workers would saturate, not where the database does."""
    top = workers / service_time_s if db_qps is None else min(workers / service_time_s, db_qps)
    return top, workers * (service_time_s + think_time_s) / service_time_s


def the_database_decides(workers, service_time_s, think_time_s=0.0, db_qps=None):
    """Takes the database's ceiling whenever there is one, even when the workers are slower."""
    top = workers / service_time_s if db_qps is None else db_qps
    return top, top * (service_time_s + think_time_s)


MUTANTS = {
    f.__name__: f
    for f in (
        ignores_the_database,
        the_faster_ceiling,
        knee_from_the_workers,
        the_database_decides,
        workers_times_service,
        ignores_workers,
        milliseconds_confusion,
        knee_ignores_think_time,
        knee_from_think_time_only,
        knee_adds_instead_of_scaling,
        swapped,
        only_throughput,
        returns_none,
        memorised_examples,
        loops_forever,
        throughput_truncated,
        knee_rounded_up,
    )
}
