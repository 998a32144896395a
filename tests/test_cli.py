"""Tests of the ``vtpu`` command: outputs, the vhex file format, error messages and
exit statuses (0 ok, 1 program faulted or did not halt, 2 bad usage or input)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.asm.assembler import assemble
from sim.cli.main import main
from sim.asm.progfile import HEX_HEADER, ProgramFileError, format_hex, load_program_file, read_hex
from tests.support.placement import spec_set

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------------------- key

@pytest.mark.parametrize("coord, key", [
    ("2.0.0/0.0.0/0.0.0", 512),
    ("1.0.0/0.0.0/0.0.0", 1),
    ("1.0.0/0.0.0/0.0.1", 257),
    ("0.0.0/0.0.0/0.0.0", 0),
    # All ones in every dimension: every key bit set, 9 * 11 = 99 bits.
    ("2047.2047.2047/2047.2047.2047/2047.2047.2047", (1 << 99) - 1),
    # Dimension d, bit i -> key bit 9*i + d: shelf (d=1) = 2 is bit 1 -> key bit 10.
    ("0.2.0/0.0.0/0.0.0", 1 << 10),
])
def test_key(capsys, coord, key):
    status, out, err = run(capsys, "key", coord)
    assert (status, err) == (0, "")
    assert out == f"{key} 0x{key:x}\n"


def test_key_prints_512(capsys):
    assert run(capsys, "key", "2.0.0/0.0.0/0.0.0")[1].split()[0] == "512"


def test_key_bad_coordinate(capsys):
    status, out, err = run(capsys, "key", "2048.0.0/0.0.0/0.0.0")
    assert status == 2 and out == ""
    assert err == "vtpu: error: library = 2048 is outside 0..2047\n"


# ---------------------------------------------------------------------------- asm / disasm

SOURCE = """\
start: CLI c0, 1.0.0/0.0.0/0.0.0
    LI r1, 42
loop: SCATTER [c0], r1 | LOOP c0.sc < c1.sc, loop
    JUMP done
done: HALT
"""


def test_asm_writes_vhex_and_disasm_reads_it(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", SOURCE)
    out_path = tmp_path / "p.vhex"
    status, out, err = run(capsys, "asm", src, "-o", str(out_path))
    assert (status, out, err) == (0, "", "")
    text = out_path.read_text()
    assert text.splitlines()[0] == HEX_HEADER
    words = assemble(SOURCE).words
    assert [int(line[:16], 16) for line in text.splitlines() if not line.startswith("#")] == words
    # disasm gives text that assembles back to the same words.
    status, out, err = run(capsys, "disasm", str(out_path))
    assert status == 0 and err == ""
    assert assemble(out).words == words
    assert "L0003:" in out and "LOOP c0.sc < c1.sc, L0003" in out


def test_asm_without_output_prints_vhex(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", "HALT\n")
    status, out, _ = run(capsys, "asm", src)
    assert status == 0
    assert read_hex(out).words == [10 << 36]


def test_asm_listing(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", SOURCE)
    status, out, _ = run(capsys, "asm", src, "--listing")
    assert status == 0
    lines = out.splitlines()
    # The CLI pseudo-instruction on line 1 is followed by its two SIWs.
    assert any(l.split()[:3] == ["1", "0000", "0000004000000000"] and l.endswith("+ CCLR c0")
               for l in lines)
    assert any(l.split()[:2] == ["1", "0001"] and l.endswith("+ CSET c0.lb, 1") for l in lines)
    assert any(l.split()[:2] == ["5", "0005"] and l.endswith("done: HALT") for l in lines)


def test_disasm_of_source(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", SOURCE)
    status, out, _ = run(capsys, "disasm", src)
    assert status == 0 and assemble(out).words == assemble(SOURCE).words


def test_asm_errors_all_reported_with_position(tmp_path, capsys):
    src = write(tmp_path, "bad.vasm", "LI r1, 1\nADD r1, r2\n  FOO r1\n")
    status, out, err = run(capsys, "asm", src)
    assert status == 2 and out == ""
    assert err == (f"vtpu: error: {src}:2:1: ADD takes 3 operands (rd, rs1, rs2), not 2\n"
                   f"vtpu: error: {src}:3:3: unknown mnemonic 'FOO'\n")


def test_asm_error_leaves_no_output_file(tmp_path, capsys):
    src = write(tmp_path, "bad.vasm", "FOO\n")
    out_path = tmp_path / "bad.vhex"
    assert run(capsys, "asm", src, "-o", str(out_path))[0] == 2
    assert not out_path.exists()


def test_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "none.vasm")
    for command in ("asm", "disasm", "sim"):
        status, out, err = run(capsys, command, missing)
        assert status == 2 and out == ""
        assert err == f"vtpu: error: {missing}: cannot read: No such file or directory\n"


def test_disasm_illegal_word_names_file_line_index_and_rule(tmp_path, capsys):
    path = write(tmp_path, "p.vhex", f"{HEX_HEADER}\n# comment\n{0:016x}\n\n{20:016x}  # bad\n")
    status, out, err = run(capsys, "disasm", path)
    assert status == 2 and out == ""
    assert err == (f"vtpu: error: {path}:5: word 1 0x0000000000000014 (illegal SIW, rule 1): "
                   f"D opcode 20 is undefined\n")


# ---------------------------------------------------------------------------- vhex format

@pytest.mark.parametrize("text, line, col, cause", [
    ("0000000000000000\n", 1, 1, "a vhex file starts with the line '# vtpu-hex 1', not '0000000000000000'"),
    (f"{HEX_HEADER}\n  00000000000000zz\n", 2, 3, "expected one SIW as 16 hex digits, not '00000000000000zz'"),
    (f"{HEX_HEADER}\n0\n", 2, 1, "expected one SIW as 16 hex digits, not '0'"),
    (f"{HEX_HEADER}\n{'0' * 17}\n", 2, 1, f"expected one SIW as 16 hex digits, not '{'0' * 17}'"),
    (f"{HEX_HEADER}\n{'0' * 16} {'0' * 16}\n", 2, 1,
     f"expected one SIW as 16 hex digits, not '{'0' * 16} {'0' * 16}'"),
    (f"{HEX_HEADER}\n" + f"{'0' * 16}\n" * 1025, 1026, 1, "program longer than 1024 SIWs"),
])
def test_vhex_errors(text, line, col, cause):
    with pytest.raises(ProgramFileError) as info:
        read_hex(text, "f.vhex")
    assert str(info.value) == f"f.vhex:{line}:{col}: error: {cause}"


def test_vhex_round_trip_including_illegal_words():
    words = [0, 20, (1 << 64) - 1, 10 << 36]
    text = format_hex(words, source="x.vasm")
    loaded = read_hex(text, "x.vhex")
    assert loaded.words == words
    assert loaded.lines == [4, 5, 6, 7]
    assert "illegal" in text.splitlines()[4]


def test_file_kind_by_name_or_header(tmp_path):
    hex_text = format_hex([10 << 36])
    # By header, whatever the name; by the .vhex name.
    assert load_program_file(write(tmp_path, "prog.txt", hex_text)).kind == "vhex"
    assert load_program_file(write(tmp_path, "prog.vasm", "HALT\n")).words == [10 << 36]
    with pytest.raises(ProgramFileError) as info:
        load_program_file(write(tmp_path, "prog.vhex", "HALT\n"))
    assert info.value.line == 1
    bad = tmp_path / "bin.vasm"
    bad.write_bytes(b"HALT\n\xff\xfe")
    with pytest.raises(ProgramFileError) as info:
        load_program_file(str(bad))
    assert (info.value.line, info.value.column) == (2, 1)


# ---------------------------------------------------------------------------- sim

def test_sim_text_report(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", """\
        CLI c0, 1.0.0/0.0.0/0.0.0
        FLI r1, -2.5
        SCATTER [c0], r1
        HALT
    """)
    status, out, err = run(capsys, "sim", src)
    assert (status, err) == (0, "")
    assert "status     halted" in out
    assert "r1" in out and "0xc0200000" in out and "float -2.5" in out and "int -1071644672" in out
    assert "c0   1.0.0/0.0.0/0.0.0" in out
    assert "memory     1 entry:" in out and "1.0.0/0.0.0/0.0.0" in out and "key 1 " in out


def test_sim_json(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", """\
        CLI c0, 0.0.0/0.0.0/0.0.1
        FLI r1, inf
        LI r2, -7 | SCATTER [c0], r1
        ADD r3, r1, r1 | GATHER r4, [c0] | KEY r5, c0
        HALT
    """)
    status, out, err = run(capsys, "sim", src, "--json")
    assert (status, err) == (0, "")
    obj = json.loads(out)           # exactly one JSON object, strict (no Infinity)
    assert obj["halted"] is True
    assert obj["fault"] == {"name": "NONE", "code": 0, "pc": 0}
    assert obj["regs"][2] == 0xFFFFFFF9 and obj["regs"][5] == 256
    regs = {r["reg"]: r for r in obj["nonzero_regs"]}
    assert regs["r2"]["int"] == -7
    assert regs["r1"]["float"] == "inf" and regs["r3"]["float"] == "inf"
    assert obj["cregs"][0] == "0.0.0/0.0.0/0.0.1"
    # key 256 = scroll bit 0 at key bit 8, in the set its column of the matrix names
    # (docs/isa.md 5; key bits 8 and up are not the identity, so not set 1).
    assert spec_set(256, 8, 99) not in (0, 1)
    assert obj["memory"] == [{"coord": "0.0.0/0.0.0/0.0.1", "key": 256, "set": spec_set(256, 8, 99), "way": 0,
                              "bits": "0x7f800000", "int": 0x7F800000, "float": "inf"}]
    # 7 SIWs: CLI (2), FLI (2), three more; ops: 2 + 2 + 2 + 3 + 1.
    assert (obj["siws"], obj["ops"]) == (7, 10)
    assert obj["ops_per_cycle"] == round(obj["ops"] / obj["cycles"], 4)
    for key in ("cycles", "pc", "file", "engine"):
        assert key in obj


def test_sim_fault_exit_status_and_report(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", "CSET c0.sc, 2047\nCADD c0.sc, 1\nHALT\n")
    status, out, _ = run(capsys, "sim", src)
    assert status == 1
    assert "fault COORD_RANGE (code 3) at 0001" in out
    status, out, _ = run(capsys, "sim", src, "--json")
    assert status == 1
    assert json.loads(out)["fault"] == {"name": "COORD_RANGE", "code": 3, "pc": 1}


def test_sim_running_off_the_end_is_a_fault(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", "LI r1, 1\n")
    status, out, _ = run(capsys, "sim", src, "--json")
    assert status == 1 and json.loads(out)["fault"] == {"name": "PC_RANGE", "code": 1, "pc": 1}


def test_sim_max_cycles(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", "x: JUMP x\n")
    status, out, _ = run(capsys, "sim", src, "--max-cycles", "100", "--json")
    obj = json.loads(out)
    assert status == 1 and obj["halted"] is False and obj["cycles"] == 100
    assert obj["outcome"].startswith("not halted")


def test_sim_trace(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", """\
        LI r1, 2 | CSET c1.sc, 2
        FLI r2, 1.0
    top: ADD r3, r3, r2 | LOOP c0.sc < c1.sc, top
        HALT
    """)
    status, out, _ = run(capsys, "sim", src, "--trace")
    assert status == 0
    rows = [line.split(None, 2) for line in out.splitlines()[1:] if line.strip()[:1].isdigit()
            and len(line.split(None, 2)) == 3 and line.split()[1].isdigit()]
    # Timing model (docs/isa.md section 7): the first SIW retires at cycle 2; one per
    # cycle; the second ADD waits for the first (latency 4); the LOOP falling through
    # costs one cycle before HALT.
    assert [(int(c), int(pc)) for c, pc, _ in rows] == [(2, 0), (3, 1), (4, 2), (5, 3), (9, 3), (11, 4)]
    assert rows[3][2] == "ADD r3, r3, r2 | LOOP c0.sc < c1.sc, top"
    assert rows[-1][2] == "HALT"


def test_sim_trace_json_marks_fault(tmp_path, capsys):
    path = write(tmp_path, "p.vhex", format_hex([0, 20]))
    status, out, _ = run(capsys, "sim", path, "--trace", "--json")
    obj = json.loads(out)
    assert status == 1
    assert [(t["pc"], t["fault"]) for t in obj["trace"]] == [(0, None), (1, "ILLEGAL_SIW")]
    assert "D opcode 20 is undefined" in obj["trace"][1]["siw"]


def test_unknown_engine(tmp_path, capsys):
    src = write(tmp_path, "p.vasm", "HALT\n")
    status, out, err = run(capsys, "sim", src, "--engine", "nosuch")
    assert status == 2 and out == ""
    assert err.startswith("vtpu: error: unknown engine 'nosuch'")


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


# ---------------------------------------------------------------------------- demo

def test_demo(capsys):
    status, out, err = run(capsys, "demo")
    assert (status, err) == (0, "")
    assert "gathered r2 = 42" in out
    assert "->    1 (0x001)" in out and "->  257 (0x101)" in out and "->  512 (0x200)" in out
    assert "retired 3 operations in one SIW" in out
    assert "r3 = 3.75" in out
    for k in range(4):
        assert f"3.0.0/0.0.0/0.0.{k}" in out and f"= {float(k * k)}" in out
    assert out.count("cycles") >= 4


# ---------------------------------------------------------------------------- as a process

def test_console_script_exit_statuses(tmp_path):
    """The real process: exit status and stderr without a traceback."""
    bad = write(tmp_path, "bad.vasm", "ADD r1, r2, r3 | GATHER r1, [c0]\n")
    fault = write(tmp_path, "fault.vasm", "CADD c0.sc, -1\n")
    cmd = [sys.executable, "-m", "sim.cli.main"]
    ok = subprocess.run(cmd + ["key", "1.0.0/0.0.0/0.0.1"], capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "257 0x101\n")
    r = subprocess.run(cmd + ["asm", bad], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == (f"vtpu: error: {bad}:1:25: GATHER writes r1, which ADD in the same SIW "
                        f"also writes (illegal SIW)\n")
    r = subprocess.run(cmd + ["sim", fault], capture_output=True, text=True)
    assert r.returncode == 1 and "COORD_RANGE" in r.stdout and r.stderr == ""


def test_sim_save_and_load_image(tmp_path, capsys):
    """Memory outlives the run: save it as an image, load it into a new run."""
    store = write(tmp_path, "store.vasm", "CLI c0, 0.0.5/0.0.0/0.0.9\nLI r1, 1234\nSCATTER [c0], r1\nHALT\n")
    load = write(tmp_path, "load.vasm", "CLI c3, 0.0.5/0.0.0/0.0.9\nGATHER r7, [c3]\nHALT\n")
    image = str(tmp_path / "mem.phext")
    assert run(capsys, "sim", store, "--save-image", image)[0] == 0
    status, out, _ = run(capsys, "sim", load, "--image", image, "--json")
    assert status == 0 and json.loads(out)["regs"][7] == 1234
    # Without the image the value is not there: GATHER of an absent entry gives 0.
    status, out, _ = run(capsys, "sim", load, "--json")
    assert json.loads(out)["regs"][7] == 0
    # A damaged image is refused with its file named.
    data = Path(image).read_bytes()
    assert b"value=0x000004D2" in data
    Path(image).write_bytes(data.replace(b"value=0x000004D2", b"value=0x000004D3"))
    status, out, err = run(capsys, "sim", load, "--image", image)
    assert status == 2 and out == "" and err.startswith(f"vtpu: error: {image}")


def test_sim_board_icebreaker_saves_an_image_for_that_board(tmp_path, capsys):
    """`vtpu sim --board icebreaker` runs the iCEBreaker's configuration (6-bit
    dimensions, no float unit), so its saved image has that board's memory shape and
    loads into it (as `vtpu build --board icebreaker --image` would), while the
    default core refuses it, saying why."""
    image = str(tmp_path / "hist.phext")
    status, out, _ = run(capsys, "sim", "--board", "icebreaker", str(EXAMPLES / "histogram.vasm"),
                         "--save-image", image, "--json")
    assert status == 0 and len(json.loads(out)["memory"]) == 4
    load = write(tmp_path, "load.vasm", "CLI c3, 4.0.0/0.0.0/0.0.0\nGATHER r7, [c3]\nHALT\n")
    status, out, _ = run(capsys, "sim", "--board", "icebreaker", load, "--image", image, "--json")
    assert status == 0 and json.loads(out)["regs"][7] == 18      # bin 0 of the histogram
    status, _, err = run(capsys, "sim", load, "--image", image)
    assert status == 2 and "dim_bits=6 but the core has dim_bits=11" in err
    # A float operation is an illegal SIW on that core, and fine on the default one.
    flt = write(tmp_path, "f.vasm", "LI r1, 2\nITOF r2, r1\nHALT\n")
    status, out, _ = run(capsys, "sim", "--board", "icebreaker", flt)
    assert status == 1 and "fault ILLEGAL_SIW (code 2) at 0001" in out
    assert run(capsys, "sim", flt)[0] == 0


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.vasm")))
def test_examples_round_trip_through_vhex_and_disasm(tmp_path, capsys, name):
    out_path = str(tmp_path / "p.vhex")
    assert run(capsys, "asm", str(EXAMPLES / name), "-o", out_path)[0] == 0
    status, text, _ = run(capsys, "disasm", out_path)
    assert status == 0
    assert assemble(text).words == assemble((EXAMPLES / name).read_text()).words


# ------------------------------------------------------- a shadowing hdl package

def test_another_projects_hdl_package_is_named(tmp_path):
    """README, "Layout": a foreign top-level ``hdl`` earlier on the path makes
    every command stop with the file that shadows ours, not fail inside an import."""
    foreign = tmp_path / "hdl"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("")
    root = Path(__file__).resolve().parents[1]
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]); "
            "from sim.cli.main import main; sys.exit(main(['key', '0.0.0/0.0.0/0.0.1']))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(root)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done
    assert str(foreign / "__init__.py") in done.stderr and "shadows ours" in done.stderr


def test_our_own_packages_pass_the_check(capsys):
    status, out, _ = run(capsys, "key", "2.0.0/0.0.0/0.0.0")
    assert (status, out.split()) == (0, ["512", "0x200"])   # README's example
