// Model adapter for a Verilator model (`verilator --cc` of the Verilog of the top
// level of sim/engines/fast/top.py).  The members are those listed in
// backend_cxxrtl.h.  Verilator escapes `__` in a port name as `___05F`.

#include "Vtop.h"
#include "verilated.h"

#define MODEL_COORD_WORDS 5

namespace verilator_model {

// Wide ports (over 64 bits) are VlWide arrays of 32-bit words; narrower ones are
// plain integers.
template<std::size_t N> void set_words(VlWide<N> &v, const uint32_t *words) {
	for (std::size_t n = 0; n < N; n++)
		v[n] = n < MODEL_COORD_WORDS ? words[n] : 0;
}
template<class T> void set_words(T &v, const uint32_t *words) {
	v = T(uint64_t(words[0]) | (uint64_t(words[1]) << 32));
}
template<std::size_t N> void get_words(const VlWide<N> &v, uint32_t *words) {
	for (std::size_t n = 0; n < MODEL_COORD_WORDS; n++)
		words[n] = n < N ? v[n] : 0;
}
template<class T> void get_words(const T &v, uint32_t *words) {
	uint64_t x = uint64_t(v);
	for (std::size_t n = 0; n < MODEL_COORD_WORDS; n++)
		words[n] = n < 2 ? uint32_t(x >> (32 * n)) : 0;
}

} // namespace verilator_model

struct Model {
	VerilatedContext ctx;
	Vtop *t;

	Model() {
		ctx.randReset(0);        // registers without a reset value start at 0, as in Amaranth
		t = new Vtop(&ctx, "top");
		t->clk = 0;
		t->eval();
	}
	~Model() {
		t->final();
		delete t;
	}

	inline void tick() {
		t->clk = 1;
		t->eval();
		t->clk = 0;
		t->eval();
	}
	void settle() { t->eval(); }
	void rst(bool v) { t->rst = v; }
	void req(unsigned cmd, uint32_t addr, uint64_t data, const uint32_t *coord) {
		t->debug___05Freq_cmd = cmd;
		t->debug___05Freq_addr = addr;
		t->debug___05Freq_data = data;
		verilator_model::set_words(t->debug___05Freq_coord, coord);
	}
	void req_valid(bool v) { t->debug___05Freq_valid = v; }

	bool resp_valid() { return t->debug___05Fresp_valid; }
	int resp_error() { return t->debug___05Fresp_error; }
	uint64_t resp_data() { return t->debug___05Fresp_data; }
	void resp_coord(uint32_t *w) { verilator_model::get_words(t->debug___05Fresp_coord, w); }
	int resp_hit() { return t->debug___05Fresp_hit; }
	bool running() { return t->debug___05Frunning; }
	uint64_t fault() { return t->debug___05Ffault; }
	uint64_t fault_pc() { return t->fault_pc_full; }
	uint64_t pc() { return t->pc_full; }
	uint64_t prog_len() { return t->debug___05Fprog_len; }
	uint64_t cycles() { return t->debug___05Fcycles; }
	uint64_t siws() { return t->debug___05Fsiws; }
	uint64_t ops() { return t->debug___05Fops; }
	bool retire() { return t->retire; }
	uint64_t retire_pc() { return t->retire_pc; }
	uint64_t retire_fault() { return t->retire_fault; }
};
