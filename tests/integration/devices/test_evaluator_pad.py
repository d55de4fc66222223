"""EvaluatorPad against EvaluatorPadSimulator over a real pty: the session rules, timeouts, events, every fault."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest
import serial

from devices.common.control import ControlError, ControlServer, send_control
from devices.evaluator import codec
from devices.evaluator.codec import Level, Message, PadState, Rating
from devices.evaluator.driver import (
    EvaluatorBusy,
    EvaluatorConnectionError,
    EvaluatorError,
    EvaluatorOffline,
    EvaluatorPad,
    EvaluatorRefused,
    Outcome,
    PadEvent,
)
from devices.evaluator.simulator import EvaluatorPadSimulator

WHO = ("综合受理岗", "3号窗口")


@pytest.fixture
def sim() -> Iterator[EvaluatorPadSimulator]:
    shown: list[str] = []
    with EvaluatorPadSimulator(on_event=shown.append, retransmit_interval=0.15, seed=3) as simulator:
        simulator.shown = shown  # type: ignore[attr-defined]
        yield simulator


@pytest.fixture
def pad(sim: EvaluatorPadSimulator) -> Iterator[EvaluatorPad]:
    with EvaluatorPad(sim.path, reply_timeout=0.2, retries=1, grace=0.5) as driver:
        driver.events = queue.Queue()  # type: ignore[attr-defined]
        driver.add_listener(driver.events.put)  # type: ignore[attr-defined]
        yield driver


def next_event(pad: EvaluatorPad, kind: str, timeout: float = 2.0) -> PadEvent:
    deadline = time.monotonic() + timeout
    while True:
        event = pad.events.get(timeout=max(0.01, deadline - time.monotonic()))  # type: ignore[attr-defined]
        if event.kind == kind:
            return event


def press_later(action, delay: float = 0.05) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_satisfied_citizen_rates_and_the_window_gets_it(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    assert pad.ping().state is PadState.IDLE
    session = pad.begin("A001", "王丽娜", *WHO, timeout_s=10)
    assert pad.ping() == type(pad.ping())(PadState.RATING, session)
    assert next_event(pad, "started").session_id == session
    sim.press(4)
    result = pad.wait(session)
    assert (result.outcome, result.level, result.reason, result.subject) == (Outcome.RATED, Level.SATISFIED, None, "A001")
    assert next_event(pad, "rated").evaluation == result
    assert pad.ping().state is PadState.IDLE
    # the pad's screen text masks the staff member's name
    assert any("王*娜" in line for line in sim.shown)  # type: ignore[attr-defined]
    assert not any("王丽娜" in line for line in sim.shown)  # type: ignore[attr-defined]


def test_a_cha_ping_without_a_reason_makes_the_pad_ask_for_one(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    session = pad.begin("A002", "王丽娜", *WHO, timeout_s=10)
    assert sim.press(2) is PadState.REASON
    assert next_event(pad, "asking_reason").session_id == session
    assert pad.ping().state is PadState.REASON
    with pytest.raises(ControlError, match="not on the pad's list; choose one of: 1 办事效率低"):
        sim.choose_reason(9)
    sim.choose_reason("服务态度差")
    result = pad.wait(session)
    assert (result.level, result.reason, result.reason_text) == (Level.DISSATISFIED, 2, "服务态度差")


def test_start_blocks_until_the_rating(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    press_later(lambda: sim.press(1, 3))
    result = pad.start("C2024-0001", "王丽娜", *WHO, timeout_s=10)
    assert (result.outcome, result.level, result.reason_text) == (Outcome.RATED, Level.VERY_DISSATISFIED, "多次跑腿")


def test_keys_do_nothing_without_an_open_session(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    with pytest.raises(ControlError, match="no evaluation is open"):
        sim.press(5)
    with pytest.raises(ControlError, match="not asking for a reason"):
        pad.begin("A003", "王丽娜", *WHO, timeout_s=10) and sim.choose_reason(1)
    with pytest.raises(ControlError, match="asks for no reason"):
        sim.press(5, 1)
    assert sim.results_sent == 0


def test_a_rating_for_a_session_the_window_never_opened_is_rejected(
    sim: EvaluatorPadSimulator, pad: EvaluatorPad
) -> None:
    session = pad.begin("A004", "王丽娜", *WHO, timeout_s=10)
    forged = Rating("deadbeef", Level.VERY_SATISFIED).to_message(900)
    sim.inject(codec.encode_message(forged))
    event = next_event(pad, "rejected")
    assert event.session_id == "deadbeef" and "never opened" in event.detail
    # a 差评 without a reason, even for the right session, is rejected too
    sim.inject(codec.encode_message(Message(901, "RESULT", (session, "1", ""))))
    assert "needs a reason" in next_event(pad, "rejected").detail
    # the real session is still open, and the real rating still counts
    sim.press(5)
    assert pad.wait(session).level is Level.VERY_SATISFIED


def test_nobody_rates_and_the_pad_times_out(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    started = time.monotonic()
    result = pad.start("A005", "王丽娜", *WHO, timeout_s=1)
    assert result.outcome is Outcome.TIMED_OUT and result.level is None
    assert "nobody rated" in result.detail
    assert 0.9 < time.monotonic() - started < 1.6
    assert sim.state is PadState.IDLE


def test_the_window_cancels_an_open_evaluation(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    session = pad.begin("A006", "王丽娜", *WHO, timeout_s=10)
    press_later(lambda: pad.cancel(session))
    result = pad.wait(session)
    assert result.outcome is Outcome.CANCELLED
    assert sim.state is PadState.IDLE
    with pytest.raises(EvaluatorRefused, match="NO_SESSION"):
        pad.cancel(session)


def test_a_second_start_while_one_is_open_is_refused_as_busy(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    pad.begin("A007", "王丽娜", *WHO, timeout_s=10)
    with pytest.raises(EvaluatorBusy, match="refused START: BUSY"):
        pad.begin("A008", "王丽娜", *WHO, timeout_s=10)


def test_bad_start_arguments_are_refused_before_sending(pad: EvaluatorPad) -> None:
    with pytest.raises(EvaluatorError, match="staff name must be non-empty"):
        pad.begin("A009", " ", *WHO)


def test_a_repeated_start_gets_the_same_session_not_a_second_one(sim: EvaluatorPadSimulator) -> None:
    port = serial.serial_for_url(sim.path, timeout=1)
    try:
        line = codec.encode_message(codec.StartRequest("A010", "王丽娜", *WHO, 30).to_message(41))
        decoder = codec.LineDecoder()
        answers: list = []
        for _ in range(2):  # the host did not hear the first OK and sends the very same line
            port.write(line)
            while len(answers) < 1 + _:
                answers += [m for m in decoder.feed(port.read(port.in_waiting or 1)) if isinstance(m, Message)]
        assert answers[0] == answers[1] and answers[0].verb == "OK"
        assert sim.session_id == answers[0].args[1]
    finally:
        port.close()


def test_the_pad_resends_a_rating_until_the_window_acks_it(sim: EvaluatorPadSimulator) -> None:
    port = serial.serial_for_url(sim.path, timeout=0.5)
    try:
        decoder = codec.LineDecoder()

        def read_messages(count: int) -> list[Message]:
            got: list[Message] = []
            deadline = time.monotonic() + 3
            while len(got) < count and time.monotonic() < deadline:
                got += [m for m in decoder.feed(port.read(port.in_waiting or 1)) if isinstance(m, Message)]
            return got

        port.write(codec.encode_message(codec.StartRequest("A011", "王丽娜", *WHO, 30).to_message(7)))
        [ok] = read_messages(1)
        sim.press(3)
        first, second = read_messages(2)  # no ACK yet: the same RESULT comes again
        assert first == second and first.verb == "RESULT" and first.args[:2] == (ok.args[1], "3")
        port.write(codec.encode_message(Message(first.seq, "ACK")))
        time.sleep(0.4)
        assert sim.status()["awaiting_ack"] == 0
    finally:
        port.close()


def test_fault_offline_makes_requests_fail_clearly(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    sim.set_fault("offline")
    with pytest.raises(EvaluatorOffline, match="did not answer START after 2 tries"):
        pad.begin("A012", "王丽娜", *WHO, timeout_s=10)
    with pytest.raises(ControlError, match="offline"):
        sim.press(5)
    sim.set_fault("offline", on=False)
    assert pad.ping().state is PadState.IDLE


def test_fault_garbage_is_survived(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    sim.set_fault("garbage")
    for level in (5, 4, 3):
        session = pad.begin("A013", "王丽娜", *WHO, timeout_s=10)
        sim.press(level)
        assert pad.wait(session).level == level
    assert pad.lines_rejected > 0 or pad.ping().state is PadState.IDLE


def test_fault_slow_within_the_reply_timeout_works_beyond_it_fails(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    sim.set_fault("slow", value=0.05)
    assert pad.ping().state is PadState.IDLE
    sim.set_fault("slow", value=0.5)
    with pytest.raises(EvaluatorOffline):
        pad.ping()
    sim.set_fault("slow", on=False)
    time.sleep(0.6)  # let the late answers drain; they must not be taken for the next request's
    assert pad.ping().state is PadState.IDLE


def test_a_pad_that_goes_silent_mid_evaluation_ends_it_as_timed_out(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    session = pad.begin("A014", "王丽娜", *WHO, timeout_s=1)
    sim.set_fault("offline")
    result = pad.wait(session)
    assert result.outcome is Outcome.TIMED_OUT and "no word from the pad" in result.detail


def test_a_pad_restart_ends_open_evaluations(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    session = pad.begin("A015", "王丽娜", *WHO, timeout_s=10)
    press_later(sim.reboot)
    result = pad.wait(session)
    assert result.outcome is Outcome.CANCELLED and "restarted" in result.detail
    next_event(pad, "pad_reset")


def test_the_control_channel_presses_like_the_technician(sim: EvaluatorPadSimulator, pad: EvaluatorPad) -> None:
    control = ControlServer(sim.handle_control).start()
    try:
        reply = send_control(control.url, {"cmd": "press", "level": 5})
        assert not reply["ok"] and "no evaluation is open" in reply["error"]
        session = pad.begin("A016", "王丽娜", *WHO, timeout_s=10)
        reply = send_control(control.url, {"cmd": "press", "level": 2})
        assert reply["ok"] and reply["state"] == "REASON" and "1 办事效率低" in reply["text"]
        reply = send_control(control.url, {"cmd": "press", "level": 2, "reason": "材料要求不明确"})
        assert reply["ok"] and reply["state"] == "IDLE"
        assert pad.wait(session).reason == 4
        assert send_control(control.url, {"cmd": "fault", "name": "offline", "on": True})["ok"]
        with pytest.raises(EvaluatorOffline):
            pad.ping()
        reply = send_control(control.url, {"cmd": "fault", "name": "fire", "on": True})
        assert "faults: offline, garbage, slow" in reply["error"]
    finally:
        control.close()


def test_opening_a_missing_port_is_a_clear_error() -> None:
    with pytest.raises(EvaluatorConnectionError, match="cannot open the evaluator pad line '/dev/nonexistent-pad'"):
        EvaluatorPad("/dev/nonexistent-pad")


def test_a_line_with_a_non_ascii_sequence_number_does_not_stop_the_reader(sim: EvaluatorPadSimulator,
                                                                          pad: EvaluatorPad) -> None:
    """Finding 5: ``$²,OK*67CF`` (CRC-valid, ``²`` passes isdigit) used to kill the reader thread; later lines
    were ignored and the agent never noticed. Now it is one rejected line and the pad keeps working."""
    before = pad.lines_rejected
    sim.inject(b"$\xc2\xb2,OK*67CF\r\n")
    assert pad.ping().state is PadState.IDLE  # the reply after the bad line is still read
    assert pad.lines_rejected == before + 1
    assert pad._reader.is_alive() and pad._reader_error is None
