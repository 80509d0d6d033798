// Backbone+Initialisation.swift — mamba_ssm's initialisation of a backbone's parameters.
import Foundation

extension Backbone {
    /// Initialises the backbone as `mamba_ssm` does, drawing from `rng` in checkpoint order:
    /// embedding N(0, 0.02) (an input projection: weight and bias U(±1/sqrt(F)), PyTorch's `nn.Linear`
    /// default); per block norm 1, in_proj U(±1/sqrt(D)), conv1d U(±1/sqrt(K)), x_proj U(±1/sqrt(E)),
    /// dt_proj weight U(±R^-0.5·dt_scale) (R^-0.5·dt_scale everywhere for `time_step_init_scheme`
    /// "constant"), dt_proj bias = softplus⁻¹(dt) with dt log-uniform in
    /// [dt_min, dt_max] floored at dt_init_floor, A_log = log(1…N), D = 1, out_proj U(±1/sqrt(E))
    /// divided by sqrt(nLayer); norm_f 1. An LTI mixer (S4D-Real): conv1d as above, log_dt = log Δ with Δ
    /// drawn as above, A_log = log(1…N), B = 1, C ~ N(0, 1), D = 1. A complex mixer: as the selective one
    /// (x_proj over R + 4N rows) with S4D-Lin A_n = −1/2 + iπn: A_log = log ½, A_imag = πn. A Mamba-2 block
    /// (mamba_ssm's Mamba2): in_proj and conv1d as above over their widths, dt_bias = softplus⁻¹(Δ) per head,
    /// A_log = log U[1, 16] per head, D = 1, the gated norm 1. Reverse mixers are left for the caller (copies of the forward ones).
    public func initialise(random rng: inout SeededRandom) {
        let c = config
        let p = parameters.pointer
        func uniform(_ off: Int, _ n: Int, _ bound: Float) {
            for i in 0..<n { p[off + i] = rng.uniform(-bound, bound) }
        }
        func fill(_ off: Int, _ n: Int, _ v: Float) { for i in 0..<n { p[off + i] = v } }
        let lo = Foundation.log(c.timeStepMin), hi = Foundation.log(c.timeStepMax)
        /// Δ log-uniform in [dt_min, dt_max], floored at dt_init_floor.
        func logUniformStep() -> Float { max(Foundation.exp(rng.uniform() * (hi - lo) + lo), c.timeStepFloor) }
        let D = c.dModel
        if let e = embedding { for i in 0..<(e.vocabSize * D) { p[e.weight + i] = 0.02 * rng.normal() } }
        if let x = inputProjection {
            let bound = 1 / Float(x.features).squareRoot()
            uniform(x.weight, D * x.features, bound)
            uniform(x.bias, D, bound)
        }
        /// One block of `bc`'s dimensions; out_proj divided by sqrt(`layers`) (all blocks of the model).
        func block(_ o: MambaBlock, _ bc: MambaConfig, layers: Int) {
            let D = bc.dModel, E = bc.dInner, N = bc.dState, R = bc.dtRank, K = bc.dConv
            fill(o.norm.weight, D, 1)
            let Cc = o.convChannels
            uniform(o.inProj, o.inWidth * D, 1 / Float(D).squareRoot())
            uniform(o.conv.weight, Cc * K, 1 / Float(K).squareRoot())
            if let b = o.conv.bias { uniform(b, Cc, 1 / Float(K).squareRoot()) }
            /// x_proj U(±1/sqrt(E)), dt_proj weight and bias (softplus⁻¹ of a log-uniform Δ): both selective mixers.
            func selectiveInputs(_ f: SelectiveInputs, dtProjBias: Int) {
                uniform(f.xProj, f.width * E, 1 / Float(E).squareRoot())
                let dtInitStd = c.timeStepScale / Float(R).squareRoot()
                if c.timeStepInitScheme == "constant" { fill(f.dtProj, E * R, dtInitStd) } else { uniform(f.dtProj, E * R, dtInitStd) }
                for e in 0..<E {
                    let dt = logUniformStep()
                    p[dtProjBias + e] = dt + Foundation.log(-Foundation.expm1(-dt))   // softplus⁻¹(dt)
                }
            }
            if let f = o.mixer {
                selectiveInputs(f.inputs, dtProjBias: f.dtProjBias)
                for e in 0..<E { for n in 0..<N { p[f.aLog + e * N + n] = Foundation.log(Float(n + 1)) } }
                fill(f.D, E, 1)
            } else if let f = o.complex {   // as the selective mixer, but A S4D-Lin: A_n = −1/2 + iπn
                selectiveInputs(f.inputs, dtProjBias: f.dtProjBias)
                fill(f.aLog, E * N, Foundation.log(0.5))
                for e in 0..<E { for n in 0..<N { p[f.aImag + e * N + n] = Float.pi * Float(n) } }
                fill(f.D, E, 1)
            } else if let f = o.ssd {   // mamba_ssm's Mamba2: A ~ U[1, 16] per head, dt_bias = softplus⁻¹(Δ), D = 1, norm 1
                for h in 0..<f.H {
                    let dt = logUniformStep()
                    p[f.dtBias + h] = dt + Foundation.log(-Foundation.expm1(-dt))
                }
                for h in 0..<f.H { p[f.aLog + h] = Foundation.log(rng.uniform(1, 16)) }
                fill(f.D, f.H, 1)
                fill(f.normWeight, E, 1)
            } else if let f = o.lti {   // S4D-Real (Gu et al. 2022, "On the Parameterization and Initialization …")
                for e in 0..<E { p[f.logDt + e] = Foundation.log(logUniformStep()) }
                for e in 0..<E { for n in 0..<N { p[f.aLog + e * N + n] = Foundation.log(Float(n + 1)) } }   // A_n = −(n+1)
                fill(f.B, E * N, 1)
                for i in 0..<(E * N) { p[f.C + i] = rng.normal() }
                fill(f.D, E, 1)
            }
            uniform(o.outProj, D * E, 1 / Float(E).squareRoot() / Float(layers).squareRoot())
            if let f = o.mixer { o.reverse?.ssm.copyValues(from: f, p) }
        }
        for o in blocks { block(o, c, layers: c.nLayer) }
        if let u = unet {   // stage blocks in checkpoint order, then the pooling projections (nn.Linear's default)
            let all = u.allBlocks
            for (o, bc) in all { block(o, bc, layers: all.count) }
            for s in 0..<u.levels {
                let d = u.downPool[s], up = u.upPool[s]
                uniform(d.weight, d.outDim * d.factor * d.inDim, 1 / Float(d.factor * d.inDim).squareRoot())
                uniform(d.bias, d.outDim, 1 / Float(d.factor * d.inDim).squareRoot())
                uniform(up.weight, up.factor * up.outDim * up.inDim, 1 / Float(up.inDim).squareRoot())
                uniform(up.bias, up.factor * up.outDim, 1 / Float(up.inDim).squareRoot())
            }
        }
        fill(normF.weight, D, 1)
    }
}
