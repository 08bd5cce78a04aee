{#- The update of one neuron, shared by the parallel and the folded layers. In scope: x_w
    (the summed input at WB bits), v_q (and s_q for cuba) the stored state; defines v_new (and
    s_new), and fire for spiking kinds. Parameter reads come in as expressions. #}
{%- if cuba %}
            wire signed [WB-1:0] s_w = { {(WB-SB){s_q[SB-1]}}, s_q };
            // {{ syn_decay_doc }}
{%- if syn_lost.is_empty() %}
            wire signed [WB-1:0] s_nxt = s_w + x_w;
{%- else %}
            wire signed [PW-1:0] s_p = { {(PW-SB){s_q[SB-1]}}, s_q };
            wire signed [PW-1:0] s_lost_p = {{ syn_lost }};
            wire [PW-WB-1:0] unused_s_lost = s_lost_p[PW-1:WB];
            wire signed [WB-1:0] s_nxt = s_w - s_lost_p[WB-1:0] + x_w;
{%- endif %}
{%- if saturate %}
            wire signed [WB-1:0] s_new = (s_nxt > SMAX) ? SMAX : (s_nxt < SMIN) ? SMIN : s_nxt;
{%- else %}
            wire signed [WB-1:0] s_new = s_nxt;
{%- endif %}
            wire [WB-SB-1:0] unused_s_hi = s_new[WB-1:SB];
            wire signed [WB-1:0] u_w = s_new;
{%- else %}
            wire signed [WB-1:0] u_w = x_w;
{%- endif %}
            wire signed [WB-1:0] v_w = { {(WB-VB){v_q[VB-1]}}, v_q };
            // {{ mem_decay_doc }}
{%- if mem_lost.is_empty() %}
            wire signed [WB-1:0] pre_int = v_w + u_w + {{ bias_e }};
{%- else %}
            wire signed [PW-1:0] v_p = { {(PW-VB){v_q[VB-1]}}, v_q };
            wire signed [PW-1:0] v_lost_p = {{ mem_lost }};
            wire [PW-WB-1:0] unused_v_lost = v_lost_p[PW-1:WB];
            wire signed [WB-1:0] pre_int = v_w - v_lost_p[WB-1:0] + u_w + {{ bias_e }};
{%- endif %}
{%- if spikes %}
            wire signed [WB-1:0] th = {{ th_e }};
{%- if reset_next %}
            // Delayed reset (snnTorch): a spike in the previous step, visible in the stored
            // membrane, resets this step after integration.
            wire fired_before = v_w {{ cmp }} th;
{%- if reset_zero %}
            wire signed [WB-1:0] pre = fired_before ? {{ vr_e }} : pre_int;
{%- else %}
            wire signed [WB-1:0] pre = fired_before ? pre_int - th : pre_int;
{%- endif %}
{%- else %}
            wire signed [WB-1:0] pre = pre_int;
{%- endif %}
            wire fire = pre {{ cmp }} th;
{%- if reset_next %}
            wire signed [WB-1:0] v_nxt = pre;
{%- else if reset_zero %}
            wire signed [WB-1:0] v_nxt = fire ? {{ vr_e }} : pre;
{%- else %}
            wire signed [WB-1:0] v_nxt = fire ? pre - th : pre;
{%- endif %}
{%- else %}
            wire signed [WB-1:0] v_nxt = pre_int;
{%- endif %}
{%- if saturate %}
            wire signed [WB-1:0] v_new = (v_nxt > VMAX) ? VMAX : (v_nxt < VMIN) ? VMIN : v_nxt;
{%- else %}
            wire signed [WB-1:0] v_new = v_nxt;
{%- endif %}
            wire [WB-VB-1:0] unused_v_hi = v_new[WB-1:VB];
