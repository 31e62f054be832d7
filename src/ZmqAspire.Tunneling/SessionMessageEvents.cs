using System.Reflection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Subscribes one handler to every "message received" event of SSH.NET's internal
/// <c>Session</c>, public and internal (<c>ChannelDataReceived</c>, <c>IgnoreReceived</c>,
/// <c>KeyExchangeInitReceived</c>, ...): SSH.NET raises one of them, on its receive thread,
/// for every message it reads, except SSH_MSG_GLOBAL_REQUEST, which it answers itself.
/// </summary>
/// <remarks>
/// A handler subscribed after another to the same event runs after it (a multicast delegate
/// calls in order), so subscribing this last makes it run after everything else a message does.
/// </remarks>
internal sealed class SessionMessageEvents : IDisposable
{
    private readonly object _session;
    private readonly List<(MethodInfo Remove, Delegate Handler)> _subscriptions = [];

    private SessionMessageEvents(object session) => _session = session;

    /// <summary>Subscribes <paramref name="handler"/>; null when not one event could be found.</summary>
    /// <param name="session">SSH.NET's internal <c>Session</c>.</param>
    /// <param name="handler">Called on the receive thread after each message (sender, the message's event arguments).</param>
    public static SessionMessageEvents? TrySubscribe(object session, EventHandler handler)
    {
        if (SshFastPath.SshNetSessionType is not { } type || session.GetType() != type)
        {
            return null;
        }

        var events = new SessionMessageEvents(session);
        foreach (var e in type.GetEvents(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            // EventHandler<TArgs>: a delegate taking (object, EventArgs) binds to it by contravariance.
            if (!e.Name.EndsWith("Received", StringComparison.Ordinal)
                || e.EventHandlerType is not { IsGenericType: true } handlerType
                || handlerType.GetGenericTypeDefinition() != typeof(EventHandler<>)
                || !typeof(EventArgs).IsAssignableFrom(handlerType.GetGenericArguments()[0])
                || e.GetAddMethod(nonPublic: true) is not { } add
                || e.GetRemoveMethod(nonPublic: true) is not { } remove)
            {
                continue;
            }

            var typed = Delegate.CreateDelegate(handlerType, handler.Target, handler.Method);
            add.Invoke(session, [typed]);
            events._subscriptions.Add((remove, typed));
        }

        return events._subscriptions.Count > 0 ? events : null;
    }

    /// <summary>Gets how many events are subscribed (for tests).</summary>
    internal int Count => _subscriptions.Count;

    public void Dispose()
    {
        foreach (var (remove, handler) in _subscriptions)
        {
            remove.Invoke(_session, [handler]);
        }

        _subscriptions.Clear();
    }
}
