# amaranth: UnusedElaboratable=no
"""The host link's serial rate, from the board's choice to the bytes on the line.

Each board's default (the fastest rate of its USB bridge that its clock divides
within hdl/uart.py's 2 %), ``vtpu build --baud`` and the record a build leaves
beside its bitstream, the rate ``vtpu run`` takes, and the whole link at the
divisors those rates give, with the host off the board by the whole error the
rule allows, in both directions: a fake core for the smallest divisors, the real
Sentron against the golden model for the ULX3S's (2 Mbaud at its 40 MHz, 3 Mbaud
at 100 MHz).
"""

import json

import pytest

from boards import icebreaker, ulx3s
from boards.build import BuildError, read_record, write_record
from boards.top import BoardTop, LinkRate
from hdl.uart import MAX_RATE_ERROR, BaudError
from sim.host.errors import LinkError
from sim.host.link import HostLink
from sim.host.serial_sim import SIM_CONFIG, SimSerial
from sim.isa.encoding import CoreConfig
from support.fake_core import DebugPortStub, FakeCore

TINY = ("    LI r1, 7\n"
        "    LI r2, 5 | CSET c0.sc, 3\n"
        "    IADD r3, r1, r2 | SCATTER [c0], r1\n"
        "    HALT\n")


# -- each board's rate

def test_each_board_defaults_to_the_fastest_clean_rate_of_its_bridge():
    # ULX3S at its 40 MHz: 3 Mbaud would need 13.33 clocks a bit (13: 2.56 % fast), so
    # 2 Mbaud, 20 clocks exactly; at 20 MHz 6.67 (7: 4.76 % slow), 2 Mbaud in 10; at
    # 100 MHz 3 Mbaud, 33 clocks: 3.0303 Mbaud, 1.01 % fast.
    assert ulx3s.link_rate() == LinkRate(2_000_000, 40e6, 20)
    assert ulx3s.link_rate(20e6) == LinkRate(2_000_000, 20e6, 10)
    assert ulx3s.link_rate(100e6) == LinkRate(3_000_000, 100e6, 33)
    assert ulx3s.link_rate(100e6).error == pytest.approx(100 / 99 - 1)
    # iCEBreaker at 12 MHz: 3 Mbaud, 4 clocks exactly, the UART's smallest divisor.
    assert icebreaker.link_rate() == LinkRate(3_000_000, 12e6, 4)
    assert icebreaker.link_rate(24e6) == LinkRate(3_000_000, 24e6, 8)


def _uart_divisors(board, **kwargs):
    """The divisors of the UART inside ``board``'s top level (its BoardTop elaborated,
    around a stand-in core)."""
    from amaranth.hdl import Fragment
    module = {"ulx3s": ulx3s, "icebreaker": icebreaker}[board]
    top = getattr(module, {"ulx3s": "ULX3STop", "icebreaker": "ICEBreakerTop"}[board])(
        core=DebugPortStub(module.CONFIG), **kwargs).top
    Fragment.get(top, None)
    return top.uart_rx.divisor, top.uart_tx.divisor


def test_the_board_tops_bake_in_their_rate_and_115200_stays_available():
    assert _uart_divisors("ulx3s") == (20, 20)
    assert _uart_divisors("icebreaker") == (4, 4)
    # 40 MHz / 115200 = 347.2: 347 makes 115274 baud (+0.06 %); 12 MHz: 104.2 -> 104.
    assert _uart_divisors("ulx3s", baud=115200) == (347, 347)
    assert _uart_divisors("icebreaker", baud=115200) == (104, 104)
    with pytest.raises(BaudError, match=r"3000000 baud at a 40\.000 MHz clock: .*2\.56 % off"):
        ulx3s.ULX3STop(baud=3_000_000)


def test_vtpu_build_refuses_an_unclean_rate_before_any_tool_runs(tmp_path, capsys):
    from sim.cli.main import main
    out = tmp_path / "b"
    assert main(["build", "--board", "ulx3s", "--baud", "3000000", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ulx3s: 3000000 baud at a 40.000 MHz clock" in err and "+2.56 % off" in err
    assert main(["build", "--board", "icebreaker", "--baud", "6000000", "-o", str(out)]) == 2
    assert "divisor of 2 clock cycles per bit, below the UART's minimum of 4" in capsys.readouterr().err
    assert not out.exists()


# -- the record beside the bitstream

def test_the_build_record_says_the_rate(tmp_path):
    path = write_record(tmp_path, "ulx3s", LinkRate(2_000_000, 20e6, 10), tmp_path / "top.bit")
    assert json.loads(path.read_text()) == {"board": "ulx3s", "bitstream": "top.bit",
                                            "baud": 2_000_000, "clock_hz": 20e6,
                                            "uart_divisor": 10}
    assert read_record(tmp_path)["baud"] == 2_000_000


def test_a_missing_or_broken_build_record_is_named(tmp_path):
    with pytest.raises(BuildError, match=r"build\.json: no build record; build the bitstream"):
        read_record(tmp_path)
    (tmp_path / "build.json").write_text("{not json")
    with pytest.raises(BuildError, match="cannot read the build record"):
        read_record(tmp_path)
    (tmp_path / "build.json").write_text('{"baud": "fast"}')
    with pytest.raises(BuildError, match="not a build record"):
        read_record(tmp_path)


# -- the rate vtpu run takes

def _recording_port(opened):
    """A stand-in for SerialTransport that appends the rate it is opened at to
    ``opened`` and then fails as a missing board does."""
    class RecordingPort:
        def __init__(self, port, baud):
            opened.append(baud)
            raise LinkError(f"no board on {port}")
    return RecordingPort


@pytest.fixture
def port_run(tmp_path, monkeypatch, capsys):
    """``run(*options)`` runs ``vtpu run --port /dev/ttyFAKE TINY`` in an empty folder,
    with a serial port that records the rate it is opened at and then fails;
    returns (exit status, the rate or None if no port was opened, stderr)."""
    import sim.host.transport
    from sim.cli.main import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.vasm").write_text(TINY)
    opened = []
    monkeypatch.setattr(sim.host.transport, "SerialTransport", _recording_port(opened))

    def run(*options):
        opened.clear()
        status = main(["run", "--port", "/dev/ttyFAKE", *options, "tiny.vasm"])
        return status, (opened[0] if opened else None), capsys.readouterr().err
    return run


def _record(folder, board, rate):
    folder.mkdir(parents=True, exist_ok=True)
    write_record(folder, board, rate, folder / "top.bit")


def test_vtpu_run_takes_the_rate_the_build_recorded(port_run, tmp_path):
    status, baud, err = port_run()
    assert (status, baud) == (2, 115200)                 # nothing recorded: 115200
    assert "/dev/ttyFAKE at 115200 baud: no board on /dev/ttyFAKE" in err
    _record(tmp_path / "build" / "ulx3s", "ulx3s", ulx3s.link_rate())
    assert port_run()[:2] == (2, 2_000_000)
    assert port_run("--baud", "115200")[:2] == (2, 115200)
    _record(tmp_path / "elsewhere", "icebreaker", icebreaker.link_rate())
    assert port_run("--build", "elsewhere")[:2] == (2, 3_000_000)


def test_vtpu_run_asks_which_build_when_the_builds_disagree(port_run, tmp_path):
    _record(tmp_path / "build" / "ulx3s", "ulx3s", ulx3s.link_rate())
    _record(tmp_path / "build" / "icebreaker", "icebreaker", icebreaker.link_rate())
    status, baud, err = port_run()
    assert (status, baud) == (2, None)
    assert "the builds disagree on the serial rate" in err
    assert "build/icebreaker/build.json: 3000000" in err and "build/ulx3s/build.json: 2000000" in err
    assert port_run("--build", "build/icebreaker")[:2] == (2, 3_000_000)
    (tmp_path / "empty").mkdir()
    status, baud, err = port_run("--build", "empty")
    assert (status, baud) == (2, None) and "empty/build.json: no build record" in err


def test_engine_board_takes_the_recorded_rate_unless_vtpu_baud_says(tmp_path, monkeypatch):
    import sim.host.board_engine
    from sim.engines.interface import make_engine
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VTPU_PORT", "/dev/ttyFAKE")
    monkeypatch.delenv("VTPU_BAUD", raising=False)
    opened = []
    monkeypatch.setattr(sim.host.board_engine, "SerialTransport", _recording_port(opened))

    def opened_at():
        with pytest.raises(LinkError, match="no board on /dev/ttyFAKE"):
            make_engine("board", None)
        return opened.pop()

    assert opened_at() == 115200                      # nothing recorded
    _record(tmp_path / "build" / "icebreaker", "icebreaker", icebreaker.link_rate())
    assert opened_at() == 3_000_000
    monkeypatch.setenv("VTPU_BAUD", "115200")
    assert opened_at() == 115200


def test_vtpu_run_sim_board_simulates_the_board_rate(tmp_path, monkeypatch, capsys):
    """``--sim --board B`` drives B's core at the rate ``vtpu build --board B`` bakes in
    (its clock and divisor), ``--baud`` as ``vtpu build --baud`` does."""
    import sim.host.serial_sim
    from sim.cli.main import main
    program = tmp_path / "tiny.vasm"
    program.write_text(TINY)
    made = []

    def recording_line(config, **kwargs):
        made.append(kwargs)
        raise LinkError("not simulated here")

    monkeypatch.setattr(sim.host.serial_sim, "SimSerial", recording_line)
    assert main(["run", "--sim", "--board", "ulx3s", str(program)]) == 2
    assert main(["run", "--sim", "--board", "icebreaker", "--baud", "115200", str(program)]) == 2
    assert [(k["baud"], k["clock_hz"], k["divisor"]) for k in made] == [
        (2_000_000, 40e6, 20), (115200, 12e6, 104)]
    capsys.readouterr()
    assert main(["run", "--sim", "--board", "ulx3s", "--baud", "3000000", str(program)]) == 2
    assert "ulx3s: 3000000 baud at a 40.000 MHz clock" in capsys.readouterr().err
    assert main(["run", "--sim", "--build", "build/ulx3s", str(program)]) == 2
    assert "--build goes with --port" in capsys.readouterr().err


# -- the link at the new divisors, the host off the board by the whole allowed error

HOST_BAUD = 3_000_000
DIRECTIONS = [pytest.param(+MAX_RATE_ERROR, id="host-fast"), pytest.param(-MAX_RATE_ERROR, id="host-slow")]


def _clock(divisor, host_error):
    """The board clock at which ``divisor`` makes a rate the host's is ``host_error`` off."""
    return HOST_BAUD * divisor / (1 + host_error)


FAKE_CONFIG = CoreConfig(set_bits=2, ways=2, prog_depth=64)


@pytest.mark.parametrize("host_error", DIRECTIONS)
@pytest.mark.parametrize("divisor", [4, 7])
def test_the_link_works_at_the_smallest_divisors(divisor, host_error):
    """4: the iCEBreaker's 3 Mbaud at 12 MHz; 7: an odd one (3 Mbaud near 21 MHz)."""
    stub = DebugPortStub(FAKE_CONFIG)
    fake = FakeCore(FAKE_CONFIG, stub.debug)
    line = SimSerial(top=BoardTop(FAKE_CONFIG, divisor=divisor, core=stub), processes=[fake.process],
                     baud=HOST_BAUD, clock_hz=_clock(divisor, host_error))
    link = HostLink(line)
    assert link.config() == FAKE_CONFIG
    link.write_reg(7, 0xFEEDC0DE)
    assert fake.regs[7] == 0xFEEDC0DE and link.read_reg(7) == 0xFEEDC0DE
    link.write_creg(2, "1.2.3/4.5.6/7.8.9")
    assert tuple(link.read_creg(2)) == (1, 2, 3, 4, 5, 6, 7, 8, 9)
    link.load_program([0x11, 0xFF00FF00FF00FF00, 0x33], verify=True)
    link.mem_write(1, 6)
    assert link.mem_read(1) == 6 and [k for _, k, _ in link.dump()] == [1]
    assert link.stats == {"resent": 0, "rejected": 0, "garbled": 0, "lost": 0}


# The real core behind the line takes tens of seconds a run: the default run has one
# direction at the ULX3S's rate (2 Mbaud at its 40 MHz), the slow run the others.
@pytest.mark.parametrize("divisor, host_error", [
    pytest.param(20, +MAX_RATE_ERROR, id="2Mbaud@40MHz-host-fast"),
    pytest.param(33, -MAX_RATE_ERROR, id="3Mbaud@100MHz-host-slow", marks=pytest.mark.slow),
    pytest.param(20, -MAX_RATE_ERROR, id="2Mbaud@40MHz-host-slow", marks=pytest.mark.slow),
    pytest.param(10, +MAX_RATE_ERROR, id="2Mbaud@20MHz-host-fast", marks=pytest.mark.slow),
    pytest.param(33, +MAX_RATE_ERROR, id="3Mbaud@100MHz-host-fast", marks=pytest.mark.slow)])
def test_the_sentron_at_the_ulx3s_rates_matches_the_golden_model(divisor, host_error):
    from sim.asm.assembler import assemble
    from sim.engines.golden import GoldenEngine
    from sim.host.board_engine import BoardEngine
    words = assemble(TINY).words
    board = BoardEngine(HostLink(SimSerial(SIM_CONFIG, divisor=divisor, baud=HOST_BAUD,
                                           clock_hz=_clock(divisor, host_error))), SIM_CONFIG)
    board.load_program(words)
    state = board.run(max_cycles=1000)
    expected = GoldenEngine(SIM_CONFIG)
    expected.load_program(words)
    assert state.diff(expected.run(1000)) == []
    assert state.regs[3] == 12 and len(state.entries()) == 1
    assert board.link.stats == {"resent": 0, "rejected": 0, "garbled": 0, "lost": 0}
