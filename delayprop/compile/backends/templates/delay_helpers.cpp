{# The delay helpers of both backends (qualifier: "static" or "static __device__").    #}
{# dp_delay_steps: the whole-step delay of an integer or a (rounded) real value;        #}
{# dp_ring_offset: its ring-row offset from the step's table (last entry: the spare     #}
{# slot for delays out of range). See docs/design.md, "Delay mapping".                  #}
{{qualifier}} inline uint32_t dp_delay_steps(uint8_t d) { return d; }
{{qualifier}} inline uint32_t dp_delay_steps(uint16_t d) { return d; }
{{qualifier}} inline uint32_t dp_delay_steps(uint32_t d) { return d; }
{{qualifier}} inline uint32_t dp_delay_steps(int32_t d) { return d < 0 ? 0xFFFFFFFFu : (uint32_t)d; }
{{qualifier}} inline uint32_t dp_delay_steps(int64_t d) { return d < 0 ? 0xFFFFFFFFu : (uint32_t)d; }
{{qualifier}} inline uint32_t dp_delay_steps(float d) { return d < -0.5f ? 0xFFFFFFFFu : (uint32_t)(d + 0.5f); }
{{qualifier}} inline uint32_t dp_delay_steps(double d) { return d < -0.5 ? 0xFFFFFFFFu : (uint32_t)(d + 0.5); }
template <uint32_t N> {{qualifier}} inline uint32_t dp_ring_offset(const uint32_t (&table)[N], uint8_t d) {
    static_assert(N > 256, "the delay table covers every uint8 value");
    return table[d];
}
template <uint32_t N, typename T> {{qualifier}} inline uint32_t dp_ring_offset(const uint32_t (&table)[N], T d) {
    const uint32_t dl = dp_delay_steps(d);
    return table[dl < N - 1 ? dl : N - 1];
}
