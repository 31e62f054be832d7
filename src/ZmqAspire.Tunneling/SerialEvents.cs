using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Raises a component's events one after another, in the order posted, on a thread-pool thread:
/// never on SSH.NET's receive thread nor on a supervisor loop. A handler may then do anything,
/// including disposing the component that raised the event: SSH.NET's
/// <c>Disconnect</c> waits for its receive thread, which would otherwise be the thread waiting.
/// </summary>
/// <remarks>
/// An exception a handler throws is rethrown on a thread-pool thread, unhandled (the process
/// ends), as it would be on any thread .NET raises events on; it is not swallowed.
/// </remarks>
internal sealed class SerialEvents
{
    private readonly Channel<Action> _queue = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });

    public SerialEvents() => _ = Task.Run(DrainAsync);

    /// <summary>Queues <paramref name="raise"/>; dropped once <see cref="Complete"/> was called.</summary>
    public void Post(Action raise) => _queue.Writer.TryWrite(raise);

    /// <summary>
    /// Returns a task that completes once every event posted before this call has been raised
    /// (at once when the queue is complete: nothing more will be raised).
    /// </summary>
    public Task RaisedSoFarAsync()
    {
        var raised = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(() => raised.TrySetResult()) ? raised.Task : Task.CompletedTask;
    }

    /// <summary>Raises what is queued, then stops; later posts are dropped.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task DrainAsync()
    {
        await foreach (var raise in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                raise();
            }
            catch (Exception ex)
            {
                var captured = ExceptionDispatchInfo.Capture(ex);
                ThreadPool.UnsafeQueueUserWorkItem(_ => captured.Throw(), null);
            }
        }
    }
}
