package dev.ember.server;

import io.javalin.http.Context;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Notices a client that goes away while its job waits or runs, so the job can be dropped. HTTP/1.1 has no
 * signal for that: a server learns of a closed connection only by reading from it, and Jetty does not read
 * while a request is being handled. So, once the request body has been read, this asks Jetty's endpoint to
 * say when the connection becomes readable: end-of-stream means the client closed it. (Bytes instead would be
 * a pipelined next request, which HTTP clients do not send while waiting for a POST's answer; the byte read is
 * then lost, so that connection is closed after this answer.) It also keeps Jetty's idle timeout from failing
 * a request whose job simply takes long. {@link #stop()} withdraws the read interest before the answer is
 * written, so the connection serves its next request normally.
 */
final class ClientWatch implements Callback {
    private final EndPoint endPoint;
    private final Runnable onGone;
    private boolean stopped;
    private boolean gone;
    private boolean pipelined;

    private ClientWatch(EndPoint endPoint, Runnable onGone) {
        this.endPoint = endPoint;
        this.onGone = onGone;
    }

    /** Starts watching the connection of {@code ctx} (whose body must have been read); {@code onGone} runs at most once. */
    static ClientWatch start(Context ctx, Runnable onGone) {
        Request request = ServletContextRequest.getServletContextRequest(ctx.req());
        request.addIdleTimeoutListener(timeout -> false); // a long job is not an idle connection; a closed one is noticed below
        ClientWatch watch = new ClientWatch(request.getConnectionMetaData().getConnection().getEndPoint(), onGone);
        if (!watch.endPoint.tryFillInterested(watch)) watch.stopped = true; // someone else reads: cannot watch
        return watch;
    }

    /** The connection became readable: end-of-stream (or an error) means the client is gone. */
    @Override
    public void succeeded() {
        boolean leave;
        synchronized (this) {
            if (stopped) return;
            ByteBuffer one = BufferUtil.allocate(1);
            int read;
            try {
                read = endPoint.fill(one);
            } catch (Exception e) {
                read = -1;
            }
            if (read == 0) { // spurious wake-up: keep watching
                if (endPoint.tryFillInterested(this)) return;
                stopped = true;
                return;
            }
            if (read > 0) pipelined = true;
            else gone = true;
            stopped = true;
            leave = gone;
        }
        if (leave) onGone.run();
    }

    @Override
    public void failed(Throwable x) {
        boolean leave;
        synchronized (this) {
            if (stopped) return;
            stopped = true;
            gone = !(x instanceof CancellationException);
            leave = gone;
        }
        if (leave) onGone.run();
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    /** Stops watching; true when the connection must close after the answer (a pipelined byte was consumed). */
    boolean stop() {
        synchronized (this) {
            if (!stopped) {
                stopped = true;
                if (endPoint instanceof AbstractEndPoint ae) ae.getFillInterest().onFail(new CancellationException("answer ready"));
            }
            return pipelined;
        }
    }

    synchronized boolean clientGone() {
        return gone;
    }
}
