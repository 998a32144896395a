"""The board's end of the host link: parse framed, checksummed requests and drive the debug port.

A request is ``SYNC LEN SEQ CMD payload CRC16`` (docs/host-link.md).  The parser
takes it in byte by byte, running the CRC as it goes, and executes nothing until
the whole frame has arrived and its CRC, command and length have checked: a
garbled, truncated, overlong or unknown frame gets an error reply and changes
nothing.  Then it issues the request's debug-port command (DUMP_NEXT: as many
SLOT_READs as it takes to find a stored entry; READ_REGS/READ_CREGS: one read per
register, streamed), and sends the reply ``SYNC LEN SEQ CMD STATUS payload
CRC16``, computing its CRC on the fly.

Multi-byte fields are big-endian.  One *frame register* serves both halves of the
exchange: the request payload shifts in at its bottom, so it holds the payload
as one big-endian integer whose fields sit at fixed bit positions (field
extraction is wiring); then the answer is loaded into it as a *record* (hit,
slot, coordinate, data: one layout for every reply read from the core) and
shifts out of its top, a byte mask saying which record bytes this command's
reply sends.  One register and one load path keep the link small on an iCE40.

Resynchronisation: between frames every byte but SYNC is ignored; inside a frame,
an idle line for ``timeout`` clock cycles ends it (TIMEOUT reply), as does a UART
framing error (FRAMING reply) or a LEN above the maximum (OVERLONG reply, sent at
once).  Bytes that arrive while a request executes or its reply is sent are
dropped: the host keeps one request outstanding.

RUN and STEP are not idempotent, so a host that lost their reply cannot simply
resend them; instead the link remembers the SEQ and command of the last request
it executed successfully, and a RUN or STEP arriving with the same pair is
answered OK without running again.
"""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sim.isa.encoding import NDIMS
from sim.isa.protocol import (COORD_BYTES, CRC_INIT, CRC_POLY, MAX_PAYLOAD, PROTOCOL_VERSION,
                          REPLY_LEN, REQUEST_LEN, SYNC_REPLY, SYNC_REQUEST, Cmd, Status)

from .debug import COUNTER_BITS, DebugCmd, DebugError, DebugSignature

__all__ = ["HostLink", "crc16_next"]

#: The debug-port command each link command issues (absent: served by the link itself).
_DEBUG_CMD = {
    Cmd.WRITE_PROG: DebugCmd.WRITE_PROG, Cmd.READ_PROG: DebugCmd.READ_PROG,
    Cmd.SET_LEN: DebugCmd.SET_LEN, Cmd.READ_REG: DebugCmd.READ_REG,
    Cmd.WRITE_REG: DebugCmd.WRITE_REG, Cmd.READ_CREG: DebugCmd.READ_CREG,
    Cmd.WRITE_CREG: DebugCmd.WRITE_CREG, Cmd.WRITE_PC: DebugCmd.WRITE_PC,
    Cmd.MEM_READ: DebugCmd.MEM_READ, Cmd.MEM_WRITE: DebugCmd.MEM_WRITE,
    Cmd.MEM_ERASE: DebugCmd.MEM_ERASE, Cmd.SLOT_READ: DebugCmd.SLOT_READ,
    Cmd.DUMP_NEXT: DebugCmd.SLOT_READ, Cmd.RUN: DebugCmd.RUN, Cmd.STEP: DebugCmd.STEP,
    Cmd.HALT: DebugCmd.HALT, Cmd.READ_REGS: DebugCmd.READ_REG, Cmd.READ_CREGS: DebugCmd.READ_CREG,
}

#: Block reads: one debug read per element (addresses 0..count-1), each element's
#: bytes streamed into the one reply as soon as it is read.
_BLOCKS = {Cmd.READ_REGS: 32, Cmd.READ_CREGS: 8}

_DEBUG_STATUS = {
    DebugError.NONE: Status.OK, DebugError.BUSY: Status.BUSY,
    DebugError.RANGE: Status.RANGE, DebugError.MEM_FULL: Status.MEM_FULL,
}

_COORD_BITS = 8 * COORD_BYTES

# The reply *record*: one layout that every reply read from the core is a selection
# of bytes from (docs/host-link.md): hit(1), slot(2), coordinate(18), data(8).
_REC_HIT, _REC_SLOT, _REC_COORD, _REC_DATA = 0, 1, 3, 3 + COORD_BYTES
_REC_BYTES = _REC_DATA + 8
assert _REC_BYTES >= REPLY_LEN[Cmd.STATUS] and _REC_BYTES >= MAX_PAYLOAD

#: Which record bytes each command's reply sends, in order (the rest are skipped).
#: CONFIG and STATUS load their whole reply left-aligned and send its first bytes.
_REPLY_BYTES = {
    Cmd.READ_PROG: range(_REC_DATA, _REC_DATA + 8),
    Cmd.READ_REG: range(_REC_DATA + 4, _REC_DATA + 8),
    Cmd.READ_CREG: range(_REC_COORD, _REC_COORD + COORD_BYTES),
    Cmd.MEM_READ: [_REC_HIT, *range(_REC_DATA + 4, _REC_DATA + 8)],
    Cmd.SLOT_READ: [_REC_HIT, *range(_REC_COORD, _REC_COORD + COORD_BYTES),
                    *range(_REC_DATA + 4, _REC_DATA + 8)],
    Cmd.DUMP_NEXT: [_REC_HIT, *range(_REC_SLOT, _REC_SLOT + 2),
                    *range(_REC_COORD, _REC_COORD + COORD_BYTES), *range(_REC_DATA + 4, _REC_DATA + 8)],
    Cmd.CONFIG: range(REPLY_LEN[Cmd.CONFIG]),
    Cmd.STATUS: range(REPLY_LEN[Cmd.STATUS]),
    Cmd.READ_REGS: range(_REC_DATA + 4, _REC_DATA + 8),                 # per element
    Cmd.READ_CREGS: range(_REC_COORD, _REC_COORD + COORD_BYTES),        # per element
}
for _c, _sel in _REPLY_BYTES.items():
    assert len(_sel) * _BLOCKS.get(_c, 1) == REPLY_LEN[_c], _c


def _crc16_terms():
    """For each bit of the next CRC, the CRC bits and byte bits it is the XOR of.

    The CRC register is linear over GF(2), so one byte step is a fixed XOR network;
    work it out once by pushing symbolic bits (sets of inputs) through the eight
    steps of the bit-serial shift register.
    """
    reg = [frozenset({("crc", i)}) for i in range(16)]
    for i in reversed(range(8)):
        feedback = reg[15] ^ {("byte", i)}
        reg = [frozenset()] + reg[:15]
        reg = [bit ^ feedback if (CRC_POLY >> n) & 1 else bit for n, bit in enumerate(reg)]
    return reg


_CRC16_TERMS = _crc16_terms()


def crc16_next(crc, byte):
    """CRC-16/CCITT-FALSE of ``crc`` advanced by one byte (most significant bit first).

    A byte per cycle: each output bit is the XOR of a handful of inputs.
    """
    sources = {"crc": crc, "byte": byte}
    return Cat(*(Cat(*(sources[name][i] for name, i in sorted(terms))).xor()
                 for terms in _CRC16_TERMS))


def _wire_coord(value, dim_bits):
    """Wire form (nine 16-bit dimensions, library in the top bits) -> (packed coord, too big)."""
    fields = [value[16 * (NDIMS - 1 - d):16 * (NDIMS - d)] for d in range(NDIMS)]
    coord = Cat(*(f[:dim_bits] for f in fields))
    too_big = Cat(*(f[dim_bits:] for f in fields)).any() if dim_bits < 16 else Const(0)
    return coord, too_big


def _coord_wire(coord, dim_bits):
    """Packed coordinate (dimension d at [d*B, (d+1)*B)) -> wire form, library on top."""
    return Cat(*(Cat(coord[d * dim_bits:(d + 1) * dim_bits], Const(0, 16 - dim_bits))
                 for d in reversed(range(NDIMS))))


class HostLink(wiring.Component):
    """Frame parser and executor between a byte stream and the Sentron debug port.

    Parameters
    ----------
    config : sim.isa.encoding.CoreConfig
        The core behind the debug port; reported by CONFIG, and DUMP_NEXT scans
        its ``sets * ways`` slots.
    timeout : int
        Clock cycles of idle line that end a frame early (TIMEOUT reply).  Should
        be several byte times, so a host that writes a frame at once never meets it.

    Attributes
    ----------
    rx : In(stream.Signature(8))
        Received bytes; always taken (``ready`` is 1): bytes arriving while the
        link is busy are dropped, not stalled in the UART.
    rx_error : In(1)
        The UART's framing-error pulse.
    tx : Out(stream.Signature(8))
        Reply bytes.
    debug : Out(DebugSignature(dim_bits).flip())
        Requester end of the core's debug port.
    busy : Out(1)
        A request is executing or its reply is going out.
    """

    def __init__(self, config, timeout):
        if config.dim_bits > 16:
            raise ValueError(f"the link carries dimensions of up to 16 bits, not {config.dim_bits}")
        if config.ways > 255 or config.sets * config.ways > 0xFFFF:
            raise ValueError(f"the link addresses at most 65535 slots in ways of up to 255; "
                             f"{config!r} has {config.sets * config.ways}")
        if not isinstance(timeout, int) or timeout < 1:
            raise ValueError(f"timeout must be a positive number of clock cycles, not {timeout!r}")
        self.config = config
        self.timeout = timeout
        super().__init__({
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "tx": Out(stream.Signature(8)),
            "debug": Out(DebugSignature(config.dim_bits).flip()),
            "busy": Out(1),
        })

    #: The link's steps, in order (one method ``_step_<name>`` each): every step
    #: reads what the steps before it defined from ``v`` and returns what it
    #: defines.  The last four are the FSM's states, receiving a request, checking
    #: it, executing it on the debug port, and sending the reply.
    STEPS = ("registers", "decode", "request", "replies", "actions")
    FSM_STEPS = ("receive", "check", "execute", "send")

    def elaborate(self, platform):
        m = Module()
        v = SimpleNamespace()
        for name in self.STEPS:
            vars(v).update(getattr(self, f"_step_{name}")(m, v))
        with m.FSM() as fsm:
            for name in self.FSM_STEPS:
                vars(v).update(getattr(self, f"_step_{name}")(m, v))
        m.d.comb += self.busy.eq(~(fsm.ongoing("HUNT") | fsm.ongoing("LEN") | fsm.ongoing("SEQ") |
                                   fsm.ongoing("CMD") | fsm.ongoing("PAYLOAD") |
                                   fsm.ongoing("CRC_HI") | fsm.ongoing("CRC_LO")))
        return m

    def _step_registers(self, m, v):
        """The received byte, the request's registers, the frame register, the last
        executed request, and the one CRC step."""
        rx_byte = self.rx.payload
        rx_strobe = Signal()
        m.d.comb += [self.rx.ready.eq(1), rx_strobe.eq(self.rx.valid)]

        # -- request registers
        length = Signal(range(MAX_PAYLOAD + 1))
        count = Signal(range(MAX_PAYLOAD + 1))
        seq = Signal(8)
        cmd = Signal(8)
        timer = Signal(range(self.timeout + 1))
        crc = Signal(16, init=CRC_INIT)
        status = Signal(8)

        # -- the frame register: the request payload shifts in at the bottom (so it is
        # a right-aligned big-endian integer); once the request has been executed it
        # holds the reply (a record, or CONFIG/STATUS left-aligned), which shifts out
        # of the top.  One register for both halves of the exchange.
        frame = Signal(8 * _REC_BYTES)
        # Which of the frame register's bytes (from the top) the reply sends; shifts
        # with it, so "send this byte?" is always its top bit.
        mask = Signal(_REC_BYTES)
        reply_len = Signal(range(max(REPLY_LEN.values()) + 1))
        slot = Signal(16)

        # -- last successfully executed request, to recognise a resent RUN or STEP
        last_seq = Signal(8)
        last_cmd = Signal(8)
        last_valid = Signal()

        # -- one CRC step shared by receiving and sending (never both at once)
        crc_byte = Signal(8)
        crc_after = Signal(16)
        m.d.comb += crc_after.eq(crc16_next(crc, crc_byte))
        return dict(rx_byte=rx_byte, rx_strobe=rx_strobe, length=length, count=count, seq=seq,
                    cmd=cmd, timer=timer, crc=crc, status=status, frame=frame, mask=mask,
                    reply_len=reply_len, slot=slot, last_seq=last_seq, last_cmd=last_cmd,
                    last_valid=last_valid, crc_byte=crc_byte, crc_after=crc_after)

    def _step_decode(self, m, v):
        """What the command byte means: known or not, its request and reply lengths,
        its debug command, which record bytes its reply sends, block reads."""
        known = Signal()
        want_len = Signal(range(MAX_PAYLOAD + 1))
        ok_len = Signal(range(max(REPLY_LEN.values()) + 1))
        dcmd = Signal(DebugCmd)
        uses_debug = Signal()
        sends = Signal(_REC_BYTES)              # which record bytes the reply sends
        block_last = Signal(8)                  # block reads: the last element's index
        is_block = Signal()
        with m.Switch(v.cmd):
            for c in Cmd:
                with m.Case(c.value):
                    m.d.comb += [known.eq(1), want_len.eq(REQUEST_LEN[c]), ok_len.eq(REPLY_LEN[c]),
                                 sends.eq(sum(1 << i for i in _REPLY_BYTES.get(c, ())))]
                    if c in _DEBUG_CMD:
                        m.d.comb += [dcmd.eq(_DEBUG_CMD[c]), uses_debug.eq(1)]
                    if c in _BLOCKS:
                        m.d.comb += [is_block.eq(1), block_last.eq(_BLOCKS[c] - 1)]
        return dict(known=known, want_len=want_len, ok_len=ok_len, dcmd=dcmd,
                    uses_debug=uses_debug, sends=sends, block_last=block_last, is_block=is_block)

    def _step_request(self, m, v):
        """The debug request's operands, at fixed places of the right-aligned payload.
        Every command that carries a coordinate has it last, so it is always frame[:144]."""
        dbg, frame, cmd = self.debug, v.frame, v.cmd
        req_coord, coord_too_big = _wire_coord(frame[:_COORD_BITS], self.config.dim_bits)
        req_addr = Signal(16)
        req_data = Signal(64)
        with m.Switch(cmd):
            with m.Case(Cmd.WRITE_PROG):
                m.d.comb += [req_addr.eq(frame[64:80]), req_data.eq(frame[:64])]
            with m.Case(Cmd.WRITE_REG):
                m.d.comb += [req_addr.eq(frame[32:40]), req_data.eq(frame[:32])]
            with m.Case(Cmd.WRITE_CREG):
                m.d.comb += req_addr.eq(frame[_COORD_BITS:_COORD_BITS + 8])
            with m.Case(Cmd.MEM_WRITE):
                m.d.comb += req_data.eq(frame[_COORD_BITS:_COORD_BITS + 32])
            with m.Case(Cmd.DUMP_NEXT, *_BLOCKS):
                m.d.comb += req_addr.eq(v.slot)
            with m.Default():
                m.d.comb += req_addr.eq(frame[:16])
        # The command and address go out registered (they come through decode
        # multiplexers); so a request is raised one cycle after its address is chosen
        # (states ISSUE and NEXT_SLOT).  Data and coordinate are frame slices already.
        m.d.sync += [dbg.req_cmd.eq(v.dcmd), dbg.req_addr.eq(req_addr)]
        m.d.comb += [dbg.req_data.eq(req_data), dbg.req_coord.eq(req_coord)]
        resent = v.last_valid & (v.last_seq == v.seq) & (v.last_cmd == cmd) & \
            ((cmd == Cmd.RUN) | (cmd == Cmd.STEP))
        return dict(coord_too_big=coord_too_big, resent=resent)

    def _step_replies(self, m, v):
        """The replies' contents, as values of the frame register."""
        cfg, dbg = self.config, self.debug
        B = cfg.dim_bits

        def record(hit, slot_value, coord_wire, data):
            """The reply record as the frame register's value: hit byte on top."""
            return Cat(data, coord_wire, slot_value, hit, Const(0, 7))

        def left(value, nbytes):
            """A reply of ``nbytes`` bytes (a big-endian integer) at the top of the frame."""
            return Cat(Const(0, 8 * (_REC_BYTES - nbytes)), value,
                       Const(0, 8 * nbytes - len(value)))

        resp_record = record(dbg.resp_hit, v.slot, _coord_wire(dbg.resp_coord, B), dbg.resp_data)
        # DUMP_NEXT with no stored entry left: found 0, slot = the number of slots.
        dump_none = record(Const(0, 1), Const(cfg.sets * cfg.ways, 16), Const(0, _COORD_BITS),
                           Const(0, 64))
        config_reply = left(Cat(Const(cfg.float_latency, 8), Const(cfg.prog_depth, 16),
                                Const(cfg.ways, 8), Const(cfg.set_bits, 8), Const(B, 8),
                                Const(PROTOCOL_VERSION, 8)), REPLY_LEN[Cmd.CONFIG])
        assert COUNTER_BITS == 48
        status_reply = left(Cat(dbg.ops, dbg.siws, dbg.cycles,
                                dbg.prog_len, Const(0, 16 - len(dbg.prog_len)),
                                dbg.pc, Const(0, 16 - len(dbg.pc)),
                                dbg.fault_pc, Const(0, 16 - len(dbg.fault_pc)),
                                dbg.fault, Const(0, 4), dbg.running, Const(0, 7)),
                            REPLY_LEN[Cmd.STATUS])
        return dict(resp_record=resp_record, dump_none=dump_none, config_reply=config_reply,
                    status_reply=status_reply)

    def _step_actions(self, m, v):
        """What the states do to end a request: reject it, load a reply, answer."""
        tx_byte = Signal(8)
        m.d.comb += self.tx.payload.eq(tx_byte)

        def reject(code):
            m.d.sync += [v.status.eq(code), v.reply_len.eq(0)]
            m.next = "SEND"

        more = Signal()        # the mask has a byte to send after its top one
        # The command's decode, registered in DECIDE for the states after it.
        ok_len_r = Signal.like(v.ok_len)
        sends_r = Signal.like(v.sends)
        dump_r = Signal()

        def load_reply(contents):
            sends_top_first = Cat(*(sends_r[_REC_BYTES - 1 - i] for i in range(_REC_BYTES)))
            m.d.sync += [v.frame.eq(contents), v.mask.eq(sends_top_first),
                         more.eq(sends_top_first[:-1].any())]

        def answer(contents):
            m.d.sync += [v.status.eq(Status.OK), v.reply_len.eq(ok_len_r)]
            load_reply(contents)
            m.next = "SEND"

        return dict(tx_byte=tx_byte, reject=reject, more=more, ok_len_r=ok_len_r,
                    sends_r=sends_r, dump_r=dump_r, load_reply=load_reply, answer=answer)

    def _step_receive(self, m, v):
        """HUNT for SYNC, then LEN, SEQ, CMD, the payload and the CRC, a byte each."""
        rx_byte, rx_strobe, frame, count = v.rx_byte, v.rx_strobe, v.frame, v.count
        with m.State("HUNT"):
            m.d.sync += [v.crc.eq(CRC_INIT), frame.eq(0), count.eq(0), v.timer.eq(0),
                         v.seq.eq(0), v.cmd.eq(0)]
            with m.If(rx_strobe & (rx_byte == SYNC_REQUEST)):
                m.next = "LEN"

        def receiving(name, on_byte):
            """A state that waits for one byte, with the idle timeout and framing check."""
            with m.State(name):
                m.d.comb += v.crc_byte.eq(rx_byte)
                with m.If(rx_strobe):
                    m.d.sync += [v.crc.eq(v.crc_after), v.timer.eq(0)]
                    on_byte()
                with m.Elif(self.rx_error):
                    v.reject(Status.FRAMING)
                with m.Elif(v.timer == self.timeout):
                    v.reject(Status.TIMEOUT)
                with m.Else():
                    m.d.sync += v.timer.eq(v.timer + 1)

        def on_len():
            m.d.sync += v.length.eq(rx_byte)
            with m.If(rx_byte > MAX_PAYLOAD):
                v.reject(Status.OVERLONG)
            with m.Else():
                m.next = "SEQ"
        receiving("LEN", on_len)

        def on_seq():
            m.d.sync += v.seq.eq(rx_byte)
            m.next = "CMD"
        receiving("SEQ", on_seq)

        def on_cmd():
            m.d.sync += v.cmd.eq(rx_byte)
            with m.If(v.length == 0):
                m.next = "CRC_HI"
            with m.Else():
                m.next = "PAYLOAD"
        receiving("CMD", on_cmd)

        def on_payload():
            m.d.sync += [frame.eq(Cat(rx_byte, frame[:-8])), count.eq(count + 1)]
            with m.If(count + 1 == v.length):
                m.next = "CRC_HI"
        receiving("PAYLOAD", on_payload)

        def on_crc_hi():
            m.next = "CRC_LO"
        receiving("CRC_HI", on_crc_hi)

        def on_crc_lo():
            m.next = "DECIDE"
        receiving("CRC_LO", on_crc_lo)
        return {}

    def _step_check(self, m, v):
        """DECIDE registers the checks (so no long path runs from the command byte's
        decode to the frame register); CHECK rejects, answers by itself, or starts
        the debug request."""
        cmd, frame = v.cmd, v.frame
        slots = self.config.sets * self.config.ways
        bad_crc, bad_cmd, bad_len, bad_coord = Signal(), Signal(), Signal(), Signal()
        is_resent, past_end = Signal(), Signal()
        block_r, block_last_r = Signal(), Signal(8)
        with m.State("DECIDE"):
            m.d.sync += [bad_crc.eq(v.crc != 0), bad_cmd.eq(~v.known),
                         bad_len.eq(v.length != v.want_len),
                         bad_coord.eq(v.coord_too_big & ((cmd == Cmd.WRITE_CREG) |
                                                         (cmd == Cmd.MEM_READ) |
                                                         (cmd == Cmd.MEM_WRITE) |
                                                         (cmd == Cmd.MEM_ERASE))),
                         is_resent.eq(v.resent), block_r.eq(v.is_block),
                         block_last_r.eq(v.block_last),
                         v.ok_len_r.eq(v.ok_len), v.sends_r.eq(v.sends),
                         v.dump_r.eq(cmd == Cmd.DUMP_NEXT),
                         past_end.eq((cmd == Cmd.DUMP_NEXT) & (frame[:16] >= slots))]
            m.next = "CHECK"

        with m.State("CHECK"):
            with m.If(bad_crc):
                v.reject(Status.CRC_ERROR)
            with m.Elif(bad_cmd):
                v.reject(Status.UNKNOWN_CMD)
            with m.Elif(bad_len):
                v.reject(Status.BAD_LENGTH)
            with m.Elif(bad_coord):
                v.reject(Status.RANGE)
            with m.Elif(is_resent):
                v.reject(Status.OK)
            with m.Elif(past_end):
                v.answer(v.dump_none)
            with m.Elif(v.uses_debug):
                m.d.sync += v.slot.eq(Mux(block_r, 0, frame[:16]))
                m.next = "NEXT_SLOT"
            with m.Elif(cmd == Cmd.CONFIG):
                v.answer(v.config_reply)         # served by the link itself
            with m.Else():
                v.answer(v.status_reply)         # a snapshot: the counters may be running
        return dict(block_r=block_r, block_last_r=block_last_r)

    def _step_execute(self, m, v):
        """EXECUTE waits for the debug port's answer (DUMP_NEXT: slot after slot
        until one is stored); NEXT_SLOT raises the request for the chosen slot."""
        dbg, slot = self.debug, v.slot
        slots = self.config.sets * self.config.ways
        with m.State("EXECUTE"):
            with m.If(dbg.resp_valid):
                m.d.sync += dbg.req_valid.eq(0)
                with m.Switch(dbg.resp_error):
                    for err, code in _DEBUG_STATUS.items():
                        with m.Case(err):
                            m.d.sync += v.status.eq(code)
                with m.If(dbg.resp_error != DebugError.NONE):
                    m.d.sync += v.reply_len.eq(0)
                    m.next = "SEND"
                with m.Elif(v.dump_r & ~dbg.resp_hit):
                    # Not stored: try the next slot, or report that none is left.
                    with m.If(slot == slots - 1):
                        v.answer(v.dump_none)
                    with m.Else():
                        m.d.sync += slot.eq(slot + 1)
                        m.next = "NEXT_SLOT"
                with m.Else():
                    m.d.sync += [v.last_seq.eq(v.seq), v.last_cmd.eq(v.cmd), v.last_valid.eq(1)]
                    v.answer(v.resp_record)

        with m.State("NEXT_SLOT"):
            m.d.sync += dbg.req_valid.eq(1)
            m.next = "EXECUTE"
        return {}

    def _step_send(self, m, v):
        """The reply: SYNC, LEN, SEQ, CMD, STATUS, payload, CRC.  One state per field
        keeps the byte multiplexer and its control shallow; a block read fetches
        each next element while its reply is going out."""
        dbg, frame, mask, more, slot = self.debug, v.frame, v.mask, v.more, v.slot
        crc, crc_after, tx_byte = v.crc, v.crc_after, v.tx_byte

        def sending(name, byte, next_state, crc_update=None):
            """A state that offers one reply byte and moves on when the UART takes it."""
            with m.State(name):
                m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(byte), v.crc_byte.eq(byte)]
                with m.If(self.tx.ready):
                    if crc_update is not None:
                        m.d.sync += crc.eq(crc_update)
                    next_state()

        def goto(state):
            return lambda: setattr(m, "next", state)

        sending("SEND", SYNC_REPLY, goto("SEND_LEN"), crc_update=CRC_INIT)
        sending("SEND_LEN", v.reply_len, goto("SEND_SEQ"), crc_update=crc_after)
        sending("SEND_SEQ", v.seq, goto("SEND_CMD"), crc_update=crc_after)
        sending("SEND_CMD", v.cmd, goto("SEND_STATUS"), crc_update=crc_after)

        def after_status():
            with m.If(v.reply_len == 0):
                m.next = "SEND_CRC_HI"
            with m.Else():
                m.next = "SEND_PAYLOAD"
        sending("SEND_STATUS", v.status, after_status, crc_update=crc_after)

        with m.State("SEND_PAYLOAD"):
            # Walk the frame register's bytes from the top, sending those the
            # command's reply holds and skipping the rest.
            take = mask[-1]
            m.d.comb += [self.tx.valid.eq(take), tx_byte.eq(frame[-8:]), v.crc_byte.eq(tx_byte)]
            with m.If(~take | self.tx.ready):
                m.d.sync += [frame.eq(Cat(Const(0, 8), frame[:-8])),
                             mask.eq(Cat(Const(0, 1), mask[:-1])), more.eq(mask[:-2].any())]
                with m.If(take):
                    m.d.sync += crc.eq(crc_after)
                with m.If(~more):
                    with m.If(v.block_r & (slot != v.block_last_r)):
                        # The next element of a block read: fetch it, then go on.
                        m.d.sync += slot.eq(slot + 1)
                        m.next = "BLOCK_ISSUE"
                    with m.Else():
                        m.next = "SEND_CRC_HI"

        with m.State("BLOCK_ISSUE"):
            m.d.sync += dbg.req_valid.eq(1)
            m.next = "BLOCK_NEXT"

        with m.State("BLOCK_NEXT"):
            # The core is idle (the link serves one request at a time and the first
            # element succeeded), so these reads cannot fail.
            with m.If(dbg.resp_valid):
                m.d.sync += dbg.req_valid.eq(0)
                v.load_reply(v.resp_record)
                m.next = "SEND_PAYLOAD"
        sending("SEND_CRC_HI", crc[8:], goto("SEND_CRC_LO"))
        sending("SEND_CRC_LO", crc[:8], goto("HUNT"))
        return {}
