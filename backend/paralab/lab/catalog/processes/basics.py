"""Part 2, P1-P5: spawning, naming, daemons, killing, and subclassing processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec

from paralab.lab.scenario import Lab, ProcessParams, Scenario, TimeScale
from paralab.lab.traced.processes import Process, current_process_name

Count = Annotated[int, msgspec.Meta(ge=1, le=16, description="how many processes")]

# P1: spawning a process ----------------------------------------------------------------


class SpawnParams(ProcessParams, frozen=True, kw_only=True):
    """Process i prints a greeting, then i numbered lines."""

    processes: Count = 6


def my_func(i: int) -> None:
    print(f"calling myFunc from process n°: {i}")
    for j in range(i):
        print(f"output from myFunc is :{j}")


def spawned(p: SpawnParams, lab: Lab) -> list[Process]:
    return [lab.mp.Process(target=my_func, args=(i,), name=f"P{i}") for i in range(p.processes)]


def in_turn(processes: Sequence[Process]) -> None:
    for process in processes:
        process.start()
        process.join()


def together(processes: Sequence[Process]) -> None:
    for process in processes:
        process.start()
    for process in processes:
        process.join()


def half_in_turn_then_together(processes: Sequence[Process]) -> None:
    half = len(processes) // 2
    in_turn(processes[:half])
    together(processes[half:])


def p1_sequential(p: SpawnParams, lab: Lab) -> None:
    in_turn(spawned(p, lab))


def p1_parallel(p: SpawnParams, lab: Lab) -> None:
    together(spawned(p, lab))


def p1_half_and_half(p: SpawnParams, lab: Lab) -> None:
    half_in_turn_then_together(spawned(p, lab))


# P2: naming a process ------------------------------------------------------------------


class NamingParams(ProcessParams, frozen=True, kw_only=True):
    """Each process sleeps this long (scenario seconds) between its two lines."""

    pause: Annotated[float, msgspec.Meta(ge=0, le=10)] = 3.0
    time_scale: TimeScale = 0.3


def say_my_name(lab: Lab, pause: float) -> None:
    name = current_process_name()
    print(f"Starting process name = {name}")
    if pause:
        lab.sleep(pause)
    print(f"Exiting process name = {name}")


def named_pair(p: NamingParams, lab: Lab, pause: float) -> list[Process]:
    custom = lab.mp.Process(target=say_my_name, args=(lab, pause), name="myFunc process")
    default = lab.mp.Process(target=say_my_name, args=(lab, pause))  # named Process-N
    return [custom, default]


def p2_in_parallel(p: NamingParams, lab: Lab) -> None:
    together(named_pair(p, lab, p.pause))


def p2_one_after_another(p: NamingParams, lab: Lab) -> None:
    in_turn(named_pair(p, lab, p.pause))


def p2_no_sleep(p: NamingParams, lab: Lab) -> None:
    together(named_pair(p, lab, pause=0))


# P3: background (daemon) processes -----------------------------------------------------


class DaemonParams(ProcessParams, frozen=True, kw_only=True):
    """The background process counts slowly; the other finishes quickly."""

    background_steps: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    foreground_steps: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    time_scale: TimeScale = 0.3


def count(lab: Lab, steps: int) -> None:
    name = current_process_name()
    print(f"Starting {name}")
    for i in range(steps):
        print(f"---> {name}: {i}")
        lab.sleep(1)
    print(f"Exiting {name}")


def background_and_foreground(
    p: DaemonParams, lab: Lab, background_daemon: bool, foreground_daemon: bool
) -> None:
    """The parent starts both and does NOT join them: when it exits, multiprocessing
    terminates daemon children (their output stops there) and waits for the others."""
    background = lab.mp.Process(
        target=count, args=(lab, p.background_steps), name="background_process"
    )
    foreground = lab.mp.Process(
        target=count, args=(lab, p.foreground_steps), name="NO_background_process"
    )
    background.daemon = background_daemon
    foreground.daemon = foreground_daemon
    background.start()
    foreground.start()
    print("the parent is done: it exits without joining its children")


def p3_one_daemon(p: DaemonParams, lab: Lab) -> None:
    background_and_foreground(p, lab, background_daemon=True, foreground_daemon=False)


def p3_no_daemon(p: DaemonParams, lab: Lab) -> None:
    background_and_foreground(p, lab, background_daemon=False, foreground_daemon=False)


def p3_both_daemon(p: DaemonParams, lab: Lab) -> None:
    background_and_foreground(p, lab, background_daemon=True, foreground_daemon=True)


# P4: killing a process -----------------------------------------------------------------


class KillParams(ProcessParams, frozen=True, kw_only=True):
    """The child counts 0..9, one number per second of scenario time."""

    grace: Annotated[
        float, msgspec.Meta(ge=0, le=10, description="P4.3: seconds before terminate()")
    ] = 5.0
    time_scale: TimeScale = 0.2


def count_to_ten(lab: Lab) -> None:
    for i in range(10):
        print(f"counting: {i}")
        lab.sleep(1)
    print("finished counting")


def report(process: Process, moment: str) -> None:
    print(f"{moment}: is_alive={process.is_alive()} exitcode={process.exitcode}")


def p4_terminate_at_once(p: KillParams, lab: Lab) -> None:
    child = lab.mp.Process(target=count_to_ten, args=(lab,), name="counter")
    report(child, "before start")
    child.start()
    report(child, "running")
    child.terminate()
    child.join()
    report(child, "terminated and joined")


def p4_terminate_after_the_end(p: KillParams, lab: Lab) -> None:
    child = lab.mp.Process(target=count_to_ten, args=(lab,), name="counter")
    report(child, "before start")
    child.start()
    report(child, "running")
    child.join()
    report(child, "ended by itself")
    child.terminate()  # nothing left to stop: a no-op
    report(child, "after terminate")


def p4_terminate_after_a_while(p: KillParams, lab: Lab) -> None:
    child = lab.mp.Process(target=count_to_ten, args=(lab,), name="counter")
    report(child, "before start")
    child.start()
    report(child, "running")
    lab.sleep(p.grace)
    child.terminate()
    report(child, "terminated")
    child.join()
    report(child, "joined")


# P5: process subclass ------------------------------------------------------------------


class SubclassParams(ProcessParams, frozen=True, kw_only=True):
    processes: Count = 10


class MyProcess(Process):
    def run(self) -> None:
        print(f"called run method by {self.name}")


def my_processes(p: SubclassParams, lab: Lab) -> list[MyProcess]:
    return [MyProcess(name=f"MyProcess-{i + 1}") for i in range(p.processes)]


def p5_sequential(p: SubclassParams, lab: Lab) -> None:
    in_turn(my_processes(p, lab))


def p5_parallel(p: SubclassParams, lab: Lab) -> None:
    together(my_processes(p, lab))


def p5_half_and_half(p: SubclassParams, lab: Lab) -> None:
    half_in_turn_then_together(my_processes(p, lab))


P1 = "Spawning a process"
P2 = "Naming a process"
P3 = "Background (daemon) processes"
P4 = "Killing a process"
P5 = "Process subclass"

SCENARIOS = [
    Scenario(
        id="P1.1",
        section_title=P1,
        title="Start and join each process in turn",
        observe="One process lane at a time: each starts only after the previous one exited. "
        "The pale start of each lane is what the start method costs.",
        params=SpawnParams,
        run=p1_sequential,
    ),
    Scenario(
        id="P1.2",
        section_title=P1,
        title="Start all, then join all",
        observe="All six processes run at once; their lines interleave in the output.",
        params=SpawnParams,
        run=p1_parallel,
    ),
    Scenario(
        id="P1.3",
        section_title=P1,
        title="Half in turn, half together",
        observe="The first three run one after another, the last three overlap.",
        params=SpawnParams,
        run=p1_half_and_half,
    ),
    Scenario(
        id="P2.1",
        section_title=P2,
        title="A named and a default-named process, in parallel",
        observe="One process is called 'myFunc process', the other gets the default Process-N; "
        "both sleep at the same time.",
        params=NamingParams,
        run=p2_in_parallel,
    ),
    Scenario(
        id="P2.2",
        section_title=P2,
        title="Named processes, one after another",
        observe="The second process starts after the first has exited.",
        params=NamingParams,
        run=p2_one_after_another,
    ),
    Scenario(
        id="P2.3",
        section_title=P2,
        title="Named processes, no sleep",
        observe="Without the sleep, each process lives for about as long as it took to start.",
        params=NamingParams,
        run=p2_no_sleep,
    ),
    Scenario(
        id="P3.1",
        section_title=P3,
        title="One daemon, one not",
        observe="The parent exits without joining: the daemon (background) is killed at once, "
        "its count cut short; the parent waits for the non-daemon to finish.",
        params=DaemonParams,
        run=p3_one_daemon,
    ),
    Scenario(
        id="P3.2",
        section_title=P3,
        title="Neither is a daemon",
        observe="The parent waits for both children before it exits: both counts complete.",
        params=DaemonParams,
        run=p3_no_daemon,
    ),
    Scenario(
        id="P3.3",
        section_title=P3,
        title="Both are daemons",
        observe="Both children are killed when the parent exits without joining them.",
        params=DaemonParams,
        run=p3_both_daemon,
    ),
    Scenario(
        id="P4.1",
        section_title=P4,
        title="Terminate right after start",
        observe="The child barely starts: exitcode -15 (killed by SIGTERM), is_alive turns False.",
        params=KillParams,
        run=p4_terminate_at_once,
    ),
    Scenario(
        id="P4.2",
        section_title=P4,
        title="Let it finish, then terminate",
        observe="The child counts to ten and exits with 0; terminate() afterwards changes nothing.",
        params=KillParams,
        run=p4_terminate_after_the_end,
    ),
    Scenario(
        id="P4.3",
        section_title=P4,
        title="Terminate after five seconds",
        observe="The count stops half way; join() then reports exitcode -15.",
        params=KillParams,
        run=p4_terminate_after_a_while,
    ),
    Scenario(
        id="P5.1",
        section_title=P5,
        title="Process subclasses in turn",
        observe="Each subclass's run() prints its name; one lane at a time.",
        params=SubclassParams,
        run=p5_sequential,
    ),
    Scenario(
        id="P5.2",
        section_title=P5,
        title="Process subclasses together",
        observe="All ten run() methods run at once.",
        params=SubclassParams,
        run=p5_parallel,
    ),
    Scenario(
        id="P5.3",
        section_title=P5,
        title="Half in turn, half together",
        observe="Five one after another, then five at once.",
        params=SubclassParams,
        run=p5_half_and_half,
    ),
]
