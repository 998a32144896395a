// The fast engine's C++ side: drives a CXXRTL model of a core through its debug port.
//
// Why the handshake and the run loop live here and not in Python: a Python call
// through ctypes costs about a microsecond, as much as several simulated clock
// cycles.  So Python crosses into this file once per *command* (a debug request,
// a whole run, a whole state dump), never once per cycle, and the per-cycle loop
// is plain C++ around the generated model.
//
// The generated model (yosys `write_cxxrtl` of the Amaranth design, top module
// `top`) is included as "vtpu_design.cc"; sim/engines/fast/build.py writes it next to a
// copy of this file and compiles both as one translation unit, so the compiler
// can inline the model's eval() into the loops below.
//
// Every port name used here comes from hdl/debug.py's DebugSignature, mangled by
// CXXRTL (`_` doubled, `debug__req_valid` -> `p_debug____req__valid`).  The
// debug protocol: hold req_* until resp_valid pulses for one cycle; see
// hdl/debug.py.

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

// The backend header defines `struct Model` (see backend_cxxrtl.h for the list of
// members) around the generated model; sim/engines/fast/build.py passes its name.
#include VTPU_BACKEND

namespace {

constexpr size_t VTPU_COORD_WORDS = MODEL_COORD_WORDS;

// Debug commands and errors, numbered as hdl/debug.py's DebugCmd and DebugError.
enum { CMD_HALT = 15 };
enum { ERR_NO_ANSWER = -1 };

// Longest a request may wait for resp_valid before the harness gives up.
constexpr uint64_t REQUEST_TIMEOUT = 100000;

struct Sim {
	Model top;
	uint64_t ticks = 0;          // clock cycles simulated since creation
	uint64_t last_retire_pc = ~uint64_t(0);
	std::vector<uint64_t> trace;  // (cycle, pc, fault) per retirement, when tracing

	inline void tick() {
		top.tick();
		ticks++;
	}

	void reset() {
		top.rst(true);
		tick();
		tick();
		top.rst(false);
		top.settle();
	}

	// One debug request: present it, clock until resp_valid, take the answer and
	// drop req_valid before the next edge.  Returns the DebugError code, or
	// ERR_NO_ANSWER if the core never answered.
	int request(int cmd, uint32_t addr, uint64_t data, const uint32_t *coord,
	            uint64_t *data_out, uint32_t *coord_out, int *hit_out) {
		static const uint32_t zero[VTPU_COORD_WORDS] = {};
		top.req(cmd, addr & 0xffff, data, coord ? coord : zero);
		top.req_valid(true);
		top.settle();
		int error = ERR_NO_ANSWER;
		for (uint64_t i = 0; i < REQUEST_TIMEOUT; i++) {
			tick();
			if (top.resp_valid()) {
				error = top.resp_error();
				if (data_out) *data_out = top.resp_data();
				if (coord_out) top.resp_coord(coord_out);
				if (hit_out) *hit_out = top.resp_hit();
				break;
			}
		}
		top.req_valid(false);
		top.settle();
		return error;
	}

	uint64_t cycles() { return top.cycles(); }
	bool running() { return top.running(); }
};

} // namespace

extern "C" {

// Version of this C interface: sim/engines/fast/engine.py refuses a library of another one.
int vtpu_abi_version(void) { return 2; }

int vtpu_coord_words(void) { return int(VTPU_COORD_WORDS); }

void *vtpu_create(void) {
	Sim *sim = new (std::nothrow) Sim();
	if (sim) sim->reset();
	return sim;
}

void vtpu_destroy(void *h) { delete static_cast<Sim *>(h); }

void vtpu_reset(void *h) { static_cast<Sim *>(h)->reset(); }

uint64_t vtpu_ticks(void *h) { return static_cast<Sim *>(h)->ticks; }

int vtpu_request(void *h, int cmd, uint32_t addr, uint64_t data, const uint32_t *coord,
                 uint64_t *data_out, uint32_t *coord_out, int *hit_out) {
	return static_cast<Sim *>(h)->request(cmd, addr, data, coord, data_out, coord_out, hit_out);
}

// Status outputs, always visible: running, fault, fault_pc, pc, prog_len, cycles,
// siws, ops.  pc and fault_pc are the full-width observation points of the
// top-level wrapper (sim/engines/fast/top.py), not the debug port's PC_BITS bits.
void vtpu_status(void *h, uint64_t *out) {
	Model &t = static_cast<Sim *>(h)->top;
	out[0] = t.running();
	out[1] = t.fault();
	out[2] = t.fault_pc();
	out[3] = t.pc();
	out[4] = t.prog_len();
	out[5] = t.cycles();
	out[6] = t.siws();
	out[7] = t.ops();
}

// Start a RUN or STEP (cmd) and follow it cycle by cycle until `running` drops,
// as sim/engines/rtl_driver.py's DebugDriver.run does: in every cycle, from the answer's
// on, sample the retire strobe, then stop if the core is idle, then send HALT if
// the cycle counter has reached max_cycles (UINT64_MAX: no limit), then clock.  With
// `trace`, every retirement is recorded (vtpu_trace_*).  Returns 1 if the core
// stopped by itself, 0 if the host halted it at max_cycles, or a negative code:
// -100 - DebugError if RUN/STEP/HALT was refused, ERR_NO_ANSWER if never answered.
int vtpu_run(void *h, int cmd, uint64_t max_cycles, int trace) {
	Sim *sim = static_cast<Sim *>(h);
	Model &t = sim->top;
	sim->trace.clear();
	int error = sim->request(cmd, 0, 0, nullptr, nullptr, nullptr, nullptr);
	if (error != 0)
		return error < 0 ? error : -100 - error;
	bool halt_sent = false, limit_hit = false;
	uint64_t halt_wait = 0;
	for (;;) {
		if (t.retire()) {
			sim->last_retire_pc = t.retire_pc();
			if (trace) {
				sim->trace.push_back(sim->cycles());
				sim->trace.push_back(sim->last_retire_pc);
				sim->trace.push_back(t.retire_fault());
			}
		}
		if (halt_sent) {
			if (t.resp_valid()) {
				error = t.resp_error();
				t.req_valid(false);
				t.settle();
				halt_sent = false;
				if (error != 0)
					return -100 - error;
			} else if (++halt_wait > REQUEST_TIMEOUT) {
				return ERR_NO_ANSWER;
			}
		}
		if (!halt_sent && !sim->running())
			return limit_hit ? 0 : 1;
		if (!limit_hit && sim->cycles() >= max_cycles) {
			limit_hit = true;
			halt_sent = true;
			static const uint32_t zero[VTPU_COORD_WORDS] = {};
			t.req(CMD_HALT, 0, 0, zero);
			t.req_valid(true);
			t.settle();
		}
		sim->tick();
	}
}

// The retirements recorded by the last vtpu_run with `trace`: (cycle, pc, fault)
// triples, flattened.
uint64_t vtpu_trace_count(void *h) { return static_cast<Sim *>(h)->trace.size() / 3; }

void vtpu_trace_copy(void *h, uint64_t *out) {
	const std::vector<uint64_t> &tr = static_cast<Sim *>(h)->trace;
	std::memcpy(out, tr.data(), tr.size() * sizeof(uint64_t));
}

// Address of the last SIW that retired (committed or faulted) in any run.
uint64_t vtpu_last_retire_pc(void *h) { return static_cast<Sim *>(h)->last_retire_pc; }

// Write a whole program (WRITE_PROG per word, then SET_LEN).  Returns 0, or the
// index of the first word refused plus one, negated.
int vtpu_load_program(void *h, const uint64_t *words, uint32_t count, uint32_t cmd_write,
                      uint32_t cmd_set_len) {
	Sim *sim = static_cast<Sim *>(h);
	for (uint32_t i = 0; i < count; i++)
		if (sim->request(int(cmd_write), i, words[i], nullptr, nullptr, nullptr, nullptr) != 0)
			return -int(i) - 1;
	if (sim->request(int(cmd_set_len), count, 0, nullptr, nullptr, nullptr, nullptr) != 0)
		return -int(count) - 1;
	return 0;
}

// Read `count` consecutive addresses with one command (READ_REG, READ_CREG,
// SLOT_READ): data, coordinate (VTPU_COORD_WORDS words each) and hit per address.
// Returns 0, or the first failing address plus one, negated.
int vtpu_read_many(void *h, uint32_t cmd, uint32_t count, uint64_t *data_out,
                   uint32_t *coord_out, int *hit_out) {
	Sim *sim = static_cast<Sim *>(h);
	for (uint32_t i = 0; i < count; i++)
		if (sim->request(int(cmd), i, 0, nullptr, &data_out[i], &coord_out[i * VTPU_COORD_WORDS],
		                 &hit_out[i]) != 0)
			return -int(i) - 1;
	return 0;
}

} // extern "C"
