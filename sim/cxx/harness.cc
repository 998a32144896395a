// The fast engine's C++ side: drives a CXXRTL model of a core through its debug port.
//
// Why the handshake and the run loop live here and not in Python: a Python call
// through ctypes costs about a microsecond, as much as several simulated clock
// cycles.  So Python crosses into this file once per *command* (a debug request,
// a whole run, a whole state dump), never once per cycle, and the per-cycle loop
// is plain C++ around the generated model.
//
// The generated model (yosys `write_cxxrtl` of the Amaranth design, top module
// `top`) is included as "vtpu_design.cc"; sim/fast_engine.py writes it next to a
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

#include "vtpu_design.cc"

using namespace cxxrtl_design;

namespace {

// Read the current value of a port whether CXXRTL made it a `value` (an input or a
// combinational output) or a `wire` (a registered output).
template<size_t N> const cxxrtl::value<N> &cur(const cxxrtl::value<N> &v) { return v; }
template<size_t N> const cxxrtl::value<N> &cur(const cxxrtl::wire<N> &w) { return w.curr; }

template<class T> uint64_t get64(const T &port) {
	const auto &v = cur(port);
	uint64_t result = 0;
	for (size_t n = 0; n < v.chunks && n < 2; n++)
		result |= uint64_t(v.data[n]) << (32 * n);
	return result;
}

template<size_t N> void set64(cxxrtl::value<N> &v, uint64_t x) {
	for (size_t n = 0; n < v.chunks; n++)
		v.data[n] = n < 2 ? uint32_t(x >> (32 * n)) : 0;
	v.data[v.chunks - 1] &= v.msb_mask;
}

// Coordinates are wider than 64 bits (9 * dim_bits): passed as VTPU_COORD_WORDS
// little-endian 32-bit words.
constexpr size_t VTPU_COORD_WORDS = 5;

template<size_t N> void set_words(cxxrtl::value<N> &v, const uint32_t *words) {
	for (size_t n = 0; n < v.chunks; n++)
		v.data[n] = n < VTPU_COORD_WORDS ? words[n] : 0;
	v.data[v.chunks - 1] &= v.msb_mask;
}

template<class T> void get_words(const T &port, uint32_t *words) {
	const auto &v = cur(port);
	for (size_t n = 0; n < VTPU_COORD_WORDS; n++)
		words[n] = n < v.chunks ? v.data[n] : 0;
}

// Debug commands and errors, numbered as hdl/debug.py's DebugCmd and DebugError.
enum { CMD_HALT = 15 };
enum { ERR_NO_ANSWER = -1 };

// Longest a request may wait for resp_valid before the harness gives up.
constexpr uint64_t REQUEST_TIMEOUT = 100000;

struct Sim {
	p_top top;
	uint64_t ticks = 0;          // clock cycles simulated since creation

	// One rising edge.  The falling edge needs no evaluation (every flip-flop is
	// rising-edge triggered): commit() only records the low clock so that the
	// next step() sees an edge.
	inline void tick() {
		top.p_clk.set<bool>(true);
		top.step();
		top.p_clk.set<bool>(false);
		top.commit();
		ticks++;
	}

	void reset() {
		top.p_rst.set<bool>(true);
		tick();
		tick();
		top.p_rst.set<bool>(false);
		top.step();
	}

	// One debug request: present it, clock until resp_valid, take the answer and
	// drop req_valid before the next edge.  Returns the DebugError code, or
	// ERR_NO_ANSWER if the core never answered.
	int request(int cmd, uint32_t addr, uint64_t data, const uint32_t *coord,
	            uint64_t *data_out, uint32_t *coord_out, int *hit_out) {
		static const uint32_t zero[VTPU_COORD_WORDS] = {};
		top.p_debug____req__valid.set<bool>(true);
		top.p_debug____req__cmd.set<uint32_t>(uint32_t(cmd));
		top.p_debug____req__addr.set<uint32_t>(addr & 0xffff);
		set64(top.p_debug____req__data, data);
		set_words(top.p_debug____req__coord, coord ? coord : zero);
		top.step();
		int error = ERR_NO_ANSWER;
		for (uint64_t i = 0; i < REQUEST_TIMEOUT; i++) {
			tick();
			if (get64(top.p_debug____resp__valid)) {
				error = int(get64(top.p_debug____resp__error));
				if (data_out) *data_out = get64(top.p_debug____resp__data);
				if (coord_out) get_words(top.p_debug____resp__coord, coord_out);
				if (hit_out) *hit_out = int(get64(top.p_debug____resp__hit));
				break;
			}
		}
		top.p_debug____req__valid.set<bool>(false);
		top.step();
		return error;
	}

	uint64_t cycles() const { return get64(top.p_debug____cycles); }
	bool running() const { return get64(top.p_debug____running) != 0; }
};

} // namespace

extern "C" {

// Version of this C interface: sim/fast_engine.py refuses a library of another one.
int vtpu_abi_version(void) { return 1; }

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
// siws, ops.
void vtpu_status(void *h, uint64_t *out) {
	p_top &t = static_cast<Sim *>(h)->top;
	out[0] = get64(t.p_debug____running);
	out[1] = get64(t.p_debug____fault);
	out[2] = get64(t.p_debug____fault__pc);
	out[3] = get64(t.p_debug____pc);
	out[4] = get64(t.p_debug____prog__len);
	out[5] = get64(t.p_debug____cycles);
	out[6] = get64(t.p_debug____siws);
	out[7] = get64(t.p_debug____ops);
}

// Start a RUN or STEP (cmd) and clock until the core stops by itself.  If the
// cycle counter reaches max_cycles first (max_cycles 0: no limit), request HALT
// and wait for it.  Returns 1 if the core stopped by itself, 0 if it was halted
// at the limit, or a negative DebugError code (-100 - error) / ERR_NO_ANSWER if
// the start or the HALT was refused or never answered.
int vtpu_run(void *h, int cmd, uint64_t max_cycles) {
	Sim *sim = static_cast<Sim *>(h);
	int error = sim->request(cmd, 0, 0, nullptr, nullptr, nullptr, nullptr);
	if (error != 0)
		return error < 0 ? error : -100 - error;
	while (sim->running()) {
		if (max_cycles && sim->cycles() >= max_cycles) {
			error = sim->request(CMD_HALT, 0, 0, nullptr, nullptr, nullptr, nullptr);
			if (error != 0)
				return error < 0 ? error : -100 - error;
			for (uint64_t i = 0; sim->running() && i < REQUEST_TIMEOUT; i++)
				sim->tick();
			return sim->running() ? ERR_NO_ANSWER : 0;
		}
		sim->tick();
	}
	return 1;
}

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
