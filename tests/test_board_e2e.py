"""The whole host-link path, bit by bit: host driver -> simulated serial line -> UART -> host
link -> core, and back.

Fault injection runs against a fake core (fast, and it logs every request the
core receives, so "not executed twice" is observable); the end-to-end program
runs are against the real Sentron, compared with the golden model.
"""

import pytest

from boards.top import BoardTop
from support.fake_core import DebugPortStub, FakeCore
from sim.isa.encoding import CoreConfig
from sim.host.errors import (AddressRangeError, BoardMemoryFull, BusyError, FrameRejected,
                             LinkTimeout, ReplyCorrupt)
from sim.host.link import HostLink
from sim.isa.protocol import Status
from sim.host.serial_sim import SimSerial

FAKE_CONFIG = CoreConfig(set_bits=2, ways=2, prog_depth=64)


def fake_board(run_cycles=30, retries=4):
    stub = DebugPortStub(FAKE_CONFIG)
    fake = FakeCore(FAKE_CONFIG, stub.debug, run_cycles=run_cycles)
    line = SimSerial(top=BoardTop(FAKE_CONFIG, divisor=4, core=stub), processes=[fake.process])
    return HostLink(line, retries=retries), line, fake


def test_driver_basics_over_the_line():
    link, line, fake = fake_board()
    assert link.config() == FAKE_CONFIG
    link.write_reg(7, 0xFEEDC0DE)
    assert fake.regs[7] == 0xFEEDC0DE and link.read_reg(7) == 0xFEEDC0DE
    link.write_creg(2, "1.2.3/4.5.6/7.8.9")
    assert fake.cregs[2] == (1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert tuple(link.read_creg(2)) == (1, 2, 3, 4, 5, 6, 7, 8, 9)
    link.load_program([0x11, 0x22, 0x33], verify=True)
    assert fake.prog_len == 3 and [fake.prog[i] for i in range(3)] == [0x11, 0x22, 0x33]
    link.mem_write("0.0.0/0.0.0/0.0.1", 5)
    link.mem_write(1, 6)                     # by Morton key: 1.0.0/0.0.0/0.0.0
    assert link.mem_read("1.0.0/0.0.0/0.0.0") == 6
    assert link.mem_read("3.3.3/0.0.0/0.0.0") is None
    # Morton keys (docs/isa.md section 1): scroll bit 0 is key bit 8.
    assert sorted((k, v) for _, k, v in link.dump()) == [(1, 6), (256, 5)]
    link.mem_erase(256)
    assert [k for _, k, _ in link.dump()] == [1]
    assert link.stats == {"resent": 0, "rejected": 0, "garbled": 0, "lost": 0}


def test_board_errors_are_named():
    link, line, fake = fake_board(run_cycles=2000)
    with pytest.raises(AddressRangeError, match="READ_REG"):
        link.read_reg(40)
    with pytest.raises(AddressRangeError, match="READ_CREG"):
        link.read_creg(9)
    # Fill one set of a 2-way memory (the golden model says which keys share it):
    # the third new key there is MEM_FULL.
    from sim.golden.memory import set_index
    same_set = [k for k in range(64) if set_index(k, FAKE_CONFIG.set_bits) == 0][:3]
    for key in same_set:
        if key == same_set[-1]:
            with pytest.raises(BoardMemoryFull, match="MEM_WRITE"):
                link.mem_write(key, 1)
        else:
            link.mem_write(key, 1)
    link.run(wait=False)
    with pytest.raises(BusyError, match="BUSY"):
        link.read_reg(0)
    link.halt()
    assert not link.status().running


@pytest.mark.parametrize("action", ["corrupt", "drop", "framing"])
def test_damaged_request_is_rejected_and_resent(action):
    link, line, fake = fake_board()
    link.config()
    before = len(fake.log)
    line.inject("to_board", action, offset=6, xor=0x20)   # inside WRITE_REG's payload
    link.write_reg(5, 0x12345678)
    assert fake.regs[5] == 0x12345678
    assert [entry[0].name for entry in fake.log[before:]] == ["WRITE_REG"]   # executed once
    assert line.fault_log and line.fault_log[0][2] == action
    assert link.stats["resent"] == 1
    # The board said why (CRC_ERROR, TIMEOUT or FRAMING), or the driver timed out waiting.
    assert link.stats["rejected"] + link.stats["lost"] == 1


@pytest.mark.parametrize("action", ["corrupt", "drop"])
def test_damaged_reply_is_read_again(action):
    link, line, fake = fake_board()
    link.write_reg(9, 99)
    line.inject("to_host", action, offset=7)              # inside READ_REG's reply
    assert link.read_reg(9) == 99
    assert link.stats["resent"] == 1
    assert link.stats["garbled" if action == "corrupt" else "lost"] == 1


def test_lost_run_reply_does_not_run_twice():
    link, line, fake = fake_board()
    link.config()
    line.inject("to_host", "corrupt", offset=4)           # STATUS byte of RUN's reply
    st = link.run()
    assert not st.running
    assert fake.runs == 1, "a resent RUN ran the core again"
    assert link.stats["garbled"] == 1 and link.stats["resent"] == 1
    line.inject("to_host", "drop", offset=2)              # STEP's reply loses its SEQ byte
    link.step()
    assert fake.runs == 2


def test_noise_between_requests_is_ignored():
    link, line, fake = fake_board()
    link.write_reg(1, 1)
    line.write(bytes([0x00, 0x42, 0xFF, 0x13]))           # line noise without SYNC
    assert link.read_reg(1) == 1
    assert link.stats["resent"] == 0


def test_persistent_damage_is_reported_precisely():
    link, line, fake = fake_board(retries=2)
    link.config()
    before = len(fake.log)
    for attempt in range(3):
        # Each attempt's frame is 11 bytes (WRITE_REG); damage its CMD byte every time.
        line.inject("to_board", "corrupt", offset=3 + 11 * attempt, xor=0x01)
    with pytest.raises(FrameRejected, match=r"WRITE_REG: the board rejected the request "
                                            r"\(CRC_ERROR\) 3 time") as e:
        link.write_reg(3, 3)
    assert e.value.status == Status.CRC_ERROR
    assert fake.regs[3] == 0 and len(fake.log) == before
    # A dead line: every reply byte lost.
    for i in range(3 * 16):
        line.inject("to_host", "drop", offset=i)
    with pytest.raises(LinkTimeout, match="READ_REG: no reply after 3 attempt"):
        link.read_reg(0)
    # And the link is fine afterwards.
    assert link.read_reg(3) == 0


def test_garbled_replies_every_time_are_reported():
    link, line, fake = fake_board(retries=1)
    link.config()
    for i in range(2):
        line.inject("to_host", "corrupt", offset=9 + 11 * i, xor=0x80)   # READ_REG reply: 11 bytes
    with pytest.raises(ReplyCorrupt, match="READ_REG: reply CRC does not check after 2"):
        link.read_reg(0)



# -- the real Sentron behind the line, against the golden model

REAL_CONFIG = CoreConfig(set_bits=8, ways=4, prog_depth=64)


def real_board():
    from sim.host.board_engine import BoardEngine
    line = SimSerial(REAL_CONFIG)
    return BoardEngine(HostLink(line), REAL_CONFIG), line


def golden(words, entries=()):
    from sim.engines.golden import GoldenEngine
    engine = GoldenEngine(REAL_CONFIG)
    engine.load_program(words)
    engine.write_memory(entries)
    return engine


def _words(name):
    from pathlib import Path
    from sim.asm.assembler import assemble
    path = Path(__file__).parent.parent / "examples" / name
    return assemble(path.read_text(), str(path)).words


# Amaranth's simulator runs the whole Sentron at a few thousand cycles a second and
# a byte on the line is 40 cycles, so one program round trip (load, run, read the
# whole state back) is the default run's share; the rest is marked slow.
@pytest.mark.parametrize("example", ["dot_product.vasm",
                                     pytest.param("saxpy.vasm", marks=pytest.mark.slow)])
def test_program_on_the_board_matches_the_golden_model(example):
    words = _words(example)
    board, line = real_board()
    board.load_program(words)
    assert [board.link.read_prog(a) for a in (0, len(words) - 1)] == [words[0], words[-1]]
    state = board.run(max_cycles=100_000)
    expected = golden(words).run(100_000)
    assert state.diff(expected) == [], (state, expected)
    assert state.halted and state.fault == 0 and state.siws > 0


def test_icebreaker_core_on_the_line_matches_the_golden_model():
    """The iCEBreaker's core as its bitstream has it (boards/icebreaker.py: no float
    unit, 6-bit dimensions, block RAM register files at five clocks per cycle)
    behind the simulated line: the integer histogram example gives the golden
    model's state, and a float operation is the illegal SIW the model says."""
    from boards.icebreaker import CONFIG, REGFILE
    from sim.engines.golden import GoldenEngine
    from sim.host.board_engine import BoardEngine
    from sim.asm.assembler import assemble
    board = BoardEngine(HostLink(SimSerial(CONFIG, regfile=REGFILE)), CONFIG)
    assert board.link.config() == CONFIG
    expected = GoldenEngine(CONFIG)      # one machine for both programs, like the board
    for words in (_words("histogram.vasm"),
                  list(assemble("LI r1, 3\nITOF r2, r1\nHALT\n").words)):
        board.load_program(words)
        expected.load_program(words)
        state = board.run(max_cycles=100_000)
        assert state.diff(expected.run(100_000)) == [], state
    assert state.fault == 2 and state.fault_pc == 1        # ILLEGAL_SIW at the ITOF


@pytest.mark.slow
def test_stepping_and_a_repaired_fault_match_the_golden_model():
    """Step, then run into MEM_FULL, free a way from the host, run again: the host can
    read everything, repair the cause and resume (ARCHITECTURE.md section 5)."""
    from sim.golden.memory import MemoryFullError
    words = _words("memory_full.vasm")
    board, line = real_board()
    board.load_program(words)
    ref = golden(words)
    for _ in range(3):
        assert board.step().diff(ref.step()) == []
    state = board.run(max_cycles=10_000)
    expected = ref.run(10_000)
    assert state.diff(expected) == [] and state.fault == 4     # MEM_FULL
    # The host erases one stored entry (the same on both) and resumes.
    key = next(iter(expected.entries()))
    board.link.mem_erase(key)
    ref.machine.memory.erase(key)
    state, expected = board.run(max_cycles=10_000), ref.run(10_000)
    assert state.diff(expected) == []
    # Writing an image through the link: a new key into a set the golden model shows
    # full is reported as the model reports it, naming the entry.
    from sim.golden.memory import set_index
    full = next(s for s, ways in enumerate(expected.memory) if all(ways))
    key = next(k for k in range(1 << 20) if set_index(k, REAL_CONFIG.set_bits) == full
               and k not in expected.entries())
    with pytest.raises(MemoryFullError, match="entry 0"):
        board.write_memory([(key, 7)])


@pytest.mark.slow
def test_damaged_line_still_gives_the_golden_result():
    words = _words("dot_product.vasm")
    board, line = real_board()
    line.inject("to_board", "corrupt", offset=40, xor=0x08)     # inside the 3rd WRITE_PROG
    line.inject("to_board", "drop", offset=200)
    line.inject("to_host", "corrupt", offset=100, xor=0x40)
    board.load_program(words)
    state = board.run(max_cycles=100_000)
    assert state.diff(golden(words).run(100_000)) == []
    assert board.link.stats["resent"] >= 3


def test_vtpu_run_sim_prints_the_report_of_vtpu_sim(tmp_path, capsys):
    from sim.cli.main import main
    program = tmp_path / "tiny.vasm"
    program.write_text("    LI r1, 7\n"
                       "    LI r2, 5 | CSET c0.sc, 3\n"
                       "    IADD r3, r1, r2 | SCATTER [c0], r1\n"
                       "    HALT\n")
    assert main(["sim", str(program)]) == 0
    expected = capsys.readouterr().out
    assert main(["run", "--sim", str(program)]) == 0
    assert capsys.readouterr().out == expected
    assert "r3   0x0000000c" in expected


def test_vtpu_run_sim_board_icebreaker_names_float_operations(tmp_path, capsys):
    """`vtpu run --sim --board icebreaker` simulates the iCEBreaker's core as built: a
    float operation is named on stderr by file and line before the run, and the run
    then faults ILLEGAL_SIW there, as the golden model of that core says.  (Its memory
    is empty, so reading it back walks every slot of a five-clocks-per-cycle core.)"""
    from sim.cli.main import main
    program = tmp_path / "float.vasm"
    program.write_text("    LI r1, 3\n"
                       "    ITOF r2, r1\n"
                       "    HALT\n")
    assert main(["run", "--sim", "--board", "icebreaker", str(program)]) == 1
    out, err = capsys.readouterr()
    assert f"{program}:2: warning: SIW 1: D ITOF is a float operation" in err
    assert "fault ILLEGAL_SIW (code 2) at 0001" in out and "memory     0 entries" in out
    assert main(["run", "--port", "/dev/null", "--board", "icebreaker", str(program)]) == 2
    assert "--board goes with --sim" in capsys.readouterr().err


# -- the frame codec and the client's parameters, without a line

def test_crc16_is_ccitt_false():
    from sim.host.frames import crc16
    assert crc16(b"123456789") == 0x29B1         # the catalogue's check value of CRC-16/CCITT-FALSE
    assert crc16(b"") == 0xFFFF


def test_request_frame_layout():
    from sim.host.frames import crc16, encode_request
    from sim.isa.protocol import Cmd
    frame = encode_request(Cmd.WRITE_REG, 0x1FF, b"\x07\x01\x02\x03\x04")
    assert frame[:4] == bytes([0xA5, 5, 0xFF, int(Cmd.WRITE_REG)])      # SYNC LEN SEQ CMD
    assert frame[4:9] == b"\x07\x01\x02\x03\x04" and len(frame) == 11
    assert crc16(frame[1:]) == 0                  # the CRC over LEN..CRC ends at 0


def test_coordinate_wire_form():
    from sim.host.errors import ProtocolError
    from sim.host.frames import decode_coord, encode_coord
    wire = encode_coord((1, 2, 3, 4, 5, 6, 7, 8, 2047))
    assert wire == bytes([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0x07, 0xFF])
    assert tuple(decode_coord(wire, 11)) == (1, 2, 3, 4, 5, 6, 7, 8, 2047)
    with pytest.raises(ProtocolError, match="outside its 6-bit dimensions"):
        decode_coord(wire, 6)


def test_reply_frame_after_noise_and_garbled_replies():
    from sim.host.frames import ReplyGarbled, read_reply

    def reader(data):
        stream = iter(data)
        return lambda n: bytes(next(stream) for _ in range(n))

    # SYNC LEN SEQ CMD STATUS payload CRC, the CRC of the catalogue's CRC-16/CCITT-FALSE
    # over 02 09 05 00 AB CD.
    body = bytes([2, 9, 5, 0, 0xAB, 0xCD])
    crc = 0xFFFF
    for byte in body:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    frame = b"\x5A" + body + crc.to_bytes(2, "big")
    assert read_reply(reader(b"\x00\xA5\x13" + frame)) == (9, 5, 0, b"\xAB\xCD")
    with pytest.raises(ReplyGarbled, match="CRC"):
        read_reply(reader(frame[:-1] + bytes([frame[-1] ^ 1])))
    with pytest.raises(ReplyGarbled, match="longer than any reply"):
        read_reply(reader(b"\x5A\xFF" + bytes(300)))
    with pytest.raises(ReplyGarbled, match="no SYNC"):
        read_reply(reader(bytes(100)))


@pytest.mark.parametrize("retries", [-1, 1.5, None])
def test_link_refuses_an_impossible_retry_count(retries):
    with pytest.raises(ValueError, match="retries"):
        HostLink(object(), retries=retries)
