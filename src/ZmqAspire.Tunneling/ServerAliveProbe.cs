using System.Reflection;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Messages;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// OpenSSH's <c>ServerAliveInterval</c>/<c>ServerAliveCountMax</c> for an SSH.NET session: every
/// interval, while the last probe was answered, it sends <c>SSH_MSG_GLOBAL_REQUEST
/// "keepalive@openssh.com"</c> with want-reply (RFC 4254 section 4). The server must answer with
/// <c>SSH_MSG_REQUEST_SUCCESS</c> or <c>SSH_MSG_REQUEST_FAILURE</c> (OpenSSH answers FAILURE to a
/// request it does not know, which proves it alive just as well). When a probe is outstanding and
/// nothing (no answer, no channel data) has come from the server for interval × count-max, the
/// server is declared dead: the silence OpenSSH allows with the same settings.
/// </summary>
/// <remarks>
/// <para>
/// Why not SSH.NET's <c>KeepAliveInterval</c>: it sends <c>SSH_MSG_IGNORE</c>, which gets no reply,
/// so a frozen bastion (docker pause) or a path that drops packets looks like an idle one until
/// TCP gives up (15 minutes and more).
/// </para>
/// <para>
/// SSH.NET has no public way to send a global request: its internal <c>Session.SendMessage</c>
/// and the internal <c>GlobalRequestMessage(byte[], bool)</c> constructor are reached by
/// reflection, and the answers are heard through the session's public message events. When one
/// is missing (another SSH.NET) <see cref="TryStart"/> returns null and no probe runs.
/// </para>
/// <para>
/// Global replies carry no request id: they answer requests in order (RFC 4254 section 4). So
/// one probe is outstanding at a time, and it holds <see cref="SshTunnelSession"/>'s global
/// request gate, which a remote forward's <c>tcpip-forward</c> also takes: neither can take the
/// other's answer for its own.
/// </para>
/// </remarks>
internal sealed class ServerAliveProbe : IDisposable
{
    private const BindingFlags NonPublicInstance = BindingFlags.Instance | BindingFlags.NonPublic;
    private static readonly byte[] RequestName = Encoding.ASCII.GetBytes("keepalive@openssh.com");
    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", NonPublicInstance);
    private static readonly MethodInfo? SendMethod = SshFastPath.SshNetSessionType?.GetMethod("SendMessage", NonPublicInstance, [typeof(Message)]);
    private static readonly ConstructorInfo? RequestConstructor = typeof(GlobalRequestMessage).GetConstructor(NonPublicInstance, [typeof(byte[]), typeof(bool)]);
    private static readonly MethodInfo Heard = typeof(ServerAliveProbe).GetMethod(nameof(OnAnswer), NonPublicInstance)!;
    private static readonly MethodInfo DataHeard = typeof(ServerAliveProbe).GetMethod(nameof(OnData), NonPublicInstance)!;

    private readonly object _session;
    private readonly Action<Message> _send;
    private readonly SemaphoreSlim _globalRequests;
    private readonly TimeSpan _interval;
    private readonly int _countMax;
    private readonly Action<TimeSpan> _dead;
    private readonly TimeProvider _time;
    private readonly List<(EventInfo Event, Delegate Handler)> _subscriptions = [];
    private readonly CancellationTokenSource _stop = new();
    private long _lastHeard;
    private long _sentAt;
    private int _outstanding;
    private long _probes;
    private long _answers;

    private ServerAliveProbe(object session, Action<Message> send, SemaphoreSlim globalRequests, TimeSpan interval, int countMax, Action<TimeSpan> dead, TimeProvider time)
    {
        _session = session;
        _send = send;
        _globalRequests = globalRequests;
        _interval = interval;
        _countMax = countMax;
        _dead = dead;
        _time = time;
        _lastHeard = time.GetTimestamp();
        _sentAt = _lastHeard;
    }

    /// <summary>Gets how many probes were sent.</summary>
    internal long Probes => Interlocked.Read(ref _probes);

    /// <summary>Gets how many probes were answered.</summary>
    internal long Answers => Interlocked.Read(ref _answers);

    /// <summary>
    /// Starts probing <paramref name="client"/>'s session. Returns null when the probe is off
    /// (<paramref name="interval"/> zero or infinite) or SSH.NET lacks a member it needs.
    /// </summary>
    /// <param name="client">A connected client.</param>
    /// <param name="globalRequests">The session's global request gate (one request awaiting its answer at a time).</param>
    /// <param name="interval">How often to probe.</param>
    /// <param name="countMax">How many intervals a probe may stay unanswered.</param>
    /// <param name="dead">Called once, on a thread-pool thread, with the silence measured, when the server is declared dead.</param>
    public static ServerAliveProbe? TryStart(SshClient client, SemaphoreSlim globalRequests, TimeSpan interval, int countMax, Action<TimeSpan> dead)
    {
        if (interval <= TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan || SendMethod is null || RequestConstructor is null
            || SshFastPath.SshNetSessionType is not { } sessionType || SessionProperty?.GetValue(client) is not { } session || session.GetType() != sessionType)
        {
            return null;
        }

        var probe = new ServerAliveProbe(session, SendMethod.CreateDelegate<Action<Message>>(session), globalRequests, interval, countMax, dead, TimeProvider.System);
        var answers = probe.Subscribe("RequestSuccessReceived", Heard) + probe.Subscribe("RequestFailureReceived", Heard);
        _ = probe.Subscribe("ChannelDataReceived", DataHeard);
        if (answers != 2)
        {
            probe.Dispose();
            return null;
        }

        _ = Task.Run(probe.RunAsync);
        return probe;
    }

    /// <summary>Stops probing (the session is closing).</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        foreach (var (info, handler) in _subscriptions)
        {
            info.RemoveEventHandler(_session, handler);
        }

        if (Interlocked.Exchange(ref _outstanding, 0) == 1)
        {
            _globalRequests.Release();
        }
    }

    private int Subscribe(string name, MethodInfo method)
    {
        // Session is internal, its events are public: EventHandler<MessageEventArgs<TMessage>>.
        if (SshFastPath.SshNetSessionType?.GetEvent(name) is not { EventHandlerType: { } type } info
            || type.GetMethod("Invoke")?.GetParameters() is not [_, { ParameterType: var args }]
            || !typeof(EventArgs).IsAssignableFrom(args))
        {
            return 0;
        }

        var handler = Delegate.CreateDelegate(type, this, method);
        info.AddEventHandler(_session, handler);
        _subscriptions.Add((info, handler));
        return 1;
    }

    private async Task RunAsync()
    {
        // Checked four times an interval, so that the silence allowed is kept to within a quarter
        // interval rather than a whole one.
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Max(_interval.Ticks / 4, TimeSpan.TicksPerMillisecond * 10)), _time);
        var allowed = _interval * _countMax;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _outstanding) == 1)
                {
                    // Silence: nothing heard (an answer, channel data) for count-max intervals
                    // while a probe waits for its answer.
                    var silence = _time.GetElapsedTime(Interlocked.Read(ref _lastHeard));
                    if (silence >= allowed)
                    {
                        Dispose();
                        _dead(silence);
                        return;
                    }

                    continue;
                }

                // One probe an interval; none while a remote forward's tcpip-forward awaits its answer.
                if (_time.GetElapsedTime(Interlocked.Read(ref _sentAt)) < _interval || !_globalRequests.Wait(0))
                {
                    continue;
                }

                Interlocked.Exchange(ref _sentAt, _time.GetTimestamp());
                Volatile.Write(ref _outstanding, 1);
                Interlocked.Increment(ref _probes);
                // Off this loop: a send can block behind relayed data on a frozen connection, and
                // the deadline must still be checked.
                _ = Task.Run(Send);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private void Send()
    {
        try
        {
            _send((Message)RequestConstructor!.Invoke([RequestName, true]));
        }
        catch (Exception ex) when (ex is TargetInvocationException or Renci.SshNet.Common.SshException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // The session is going down: its own error event says so; the deadline stands meanwhile.
        }
    }

    // On SSH.NET's receive thread: an answer to the outstanding probe (answers come in order, and
    // the gate kept any other global request from being outstanding with it).
    private void OnAnswer(object? sender, EventArgs e)
    {
        Interlocked.Exchange(ref _lastHeard, _time.GetTimestamp());
        if (Interlocked.Exchange(ref _outstanding, 0) == 1)
        {
            Interlocked.Increment(ref _answers);
            _globalRequests.Release();
        }
    }

    // On SSH.NET's receive thread: data from the server is proof of life too (as OpenSSH counts any packet).
    private void OnData(object? sender, EventArgs e) => Interlocked.Exchange(ref _lastHeard, _time.GetTimestamp());
}
