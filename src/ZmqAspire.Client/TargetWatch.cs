using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// One lane's view of its target (server replica) through the tunnel: whether the bastion
/// refuses channels to it now, and a cancellation for the attempt in flight when it starts to.
/// </summary>
/// <remarks>
/// A refused target is a replica that is gone (stopped, killed, its name no longer resolving):
/// the request it held will not be answered, so it moves at once rather than after the request
/// timeout. A replica that is frozen (docker pause) is not refused; its request moves on the timeout.
/// </remarks>
internal sealed class TargetWatch : IDisposable
{
    private readonly SshTunnel _tunnel;
    private readonly int _lane;
    private CancellationTokenSource? _attempt;

    public TargetWatch(SshTunnel tunnel, int lane)
    {
        _tunnel = tunnel;
        _lane = lane;
        _tunnel.StateChanged += OnStateChanged;
    }

    /// <summary>Gets a value indicating whether the bastion refuses channels to this lane's target now.</summary>
    public bool Refused => _tunnel.IsRefused(_lane);

    /// <summary>Gets a value indicating whether some other lane's target is not refused (somewhere else to send work).</summary>
    public bool OthersServe => Enumerable.Range(0, _tunnel.RemoteEndpoints.Count).Any(i => i != _lane && !_tunnel.IsRefused(i));

    /// <summary>Starts an attempt: its token is cancelled on shutdown, or when the target starts being refused while another serves.</summary>
    /// <param name="stopping">The lane's shutdown token.</param>
    /// <returns>The attempt's cancellation; dispose it after the attempt.</returns>
    public CancellationTokenSource BeginAttempt(CancellationToken stopping)
    {
        var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        Volatile.Write(ref _attempt, attempt);
        return attempt;
    }

    public void Dispose() => _tunnel.StateChanged -= OnStateChanged;

    // On the tunnel's event thread; a refusal is reported after the forward counted it (IsRefused is true).
    private void OnStateChanged(object? sender, SshTunnelStateChangedEventArgs e)
    {
        var state = e.State;
        if (!state.RefusedTargets.Contains(_tunnel.RemoteEndpoints[_lane]) || !Refused || !OthersServe)
        {
            return;
        }

        try
        {
            Volatile.Read(ref _attempt)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That attempt is over.
        }
    }
}
