// Model adapter for a CXXRTL model: yosys `write_cxxrtl` of the top level of
// sim/engines/fast/top.py (the core's debug port plus observation points).
//
// Every backend header defines `struct Model` with the same members, so that
// harness.cc is written once:
//   tick()            one clock cycle (rising edge); outputs settled afterwards
//   settle()          re-evaluate after an input changed
//   rst(bool)         the synchronous reset input
//   req(cmd, addr, data, coord), req_valid(bool)      debug request inputs
//   resp_valid(), resp_error(), resp_data(), resp_coord(words), resp_hit()
//   running(), fault(), fault_pc(), pc(), prog_len(), cycles(), siws(), ops()
//   retire(), retire_pc(), retire_fault()              observation points
// and MODEL_COORD_WORDS, the 32-bit words a coordinate is passed in.
//
// CXXRTL mangles names by doubling `_`: `debug__req_valid` -> `p_debug____req__valid`.

#include "vtpu_design.cc"

#define MODEL_COORD_WORDS 5

namespace cxxrtl_model {

// A port's current value whether CXXRTL made it a `value` (an input or a
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

template<size_t N> void set_words(cxxrtl::value<N> &v, const uint32_t *words) {
	for (size_t n = 0; n < v.chunks; n++)
		v.data[n] = n < MODEL_COORD_WORDS ? words[n] : 0;
	v.data[v.chunks - 1] &= v.msb_mask;
}

template<class T> void get_words(const T &port, uint32_t *words) {
	const auto &v = cur(port);
	for (size_t n = 0; n < MODEL_COORD_WORDS; n++)
		words[n] = n < v.chunks ? v.data[n] : 0;
}

} // namespace cxxrtl_model

struct Model {
	cxxrtl_design::p_top t;

	// The falling edge needs no evaluation (every flip-flop is rising-edge
	// triggered): commit() only records the low clock so that the next step()
	// sees an edge.
	inline void tick() {
		t.p_clk.set<bool>(true);
		t.step();
		t.p_clk.set<bool>(false);
		t.commit();
	}
	void settle() { t.step(); }
	void rst(bool v) { t.p_rst.set<bool>(v); }
	void req(unsigned cmd, uint32_t addr, uint64_t data, const uint32_t *coord) {
		using namespace cxxrtl_model;
		t.p_debug____req__cmd.set<uint32_t>(cmd);
		t.p_debug____req__addr.set<uint32_t>(addr);
		set64(t.p_debug____req__data, data);
		set_words(t.p_debug____req__coord, coord);
	}
	void req_valid(bool v) { t.p_debug____req__valid.set<bool>(v); }

	bool resp_valid() { return cxxrtl_model::get64(t.p_debug____resp__valid); }
	int resp_error() { return int(cxxrtl_model::get64(t.p_debug____resp__error)); }
	uint64_t resp_data() { return cxxrtl_model::get64(t.p_debug____resp__data); }
	void resp_coord(uint32_t *w) { cxxrtl_model::get_words(t.p_debug____resp__coord, w); }
	int resp_hit() { return int(cxxrtl_model::get64(t.p_debug____resp__hit)); }
	bool running() { return cxxrtl_model::get64(t.p_debug____running); }
	uint64_t fault() { return cxxrtl_model::get64(t.p_debug____fault); }
	uint64_t fault_pc() { return cxxrtl_model::get64(t.p_fault__pc__full); }
	uint64_t pc() { return cxxrtl_model::get64(t.p_pc__full); }
	uint64_t prog_len() { return cxxrtl_model::get64(t.p_debug____prog__len); }
	uint64_t cycles() { return cxxrtl_model::get64(t.p_debug____cycles); }
	uint64_t siws() { return cxxrtl_model::get64(t.p_debug____siws); }
	uint64_t ops() { return cxxrtl_model::get64(t.p_debug____ops); }
	bool retire() { return cxxrtl_model::get64(t.p_retire); }
	uint64_t retire_pc() { return cxxrtl_model::get64(t.p_retire__pc); }
	uint64_t retire_fault() { return cxxrtl_model::get64(t.p_retire__fault); }
};
