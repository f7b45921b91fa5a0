/**
 * The storyline review of a story run started with `review: "outline"` (POST
 * /stories/generate): while the run waits (`generation.stage` = `outline_review`),
 * the owner reads the storyline, edits it, asks for a revision, or approves it,
 * through the run's `reviewOutline` update, as a book's owner does its outline
 * (helpers/review.ts). Another user's story answers 404.
 */
import type { Request } from 'express';
import { Router } from 'express';
import type { Story } from '../../db/stories';
import type { ReviewOutline } from '../../workflows/shared';
import type { StoryGeneration } from '../../workflows/story-ai-shared';
import { HttpProblem, notFound } from '../problem';
import { answerOf, heldOutline, sendAnswer } from './helpers/review';
import type { StoryGenerationDeps } from './story-generation';
import type { Storyline } from '../schemas/stories';

const generationOf = (story: Story) => (story.metadata.generation ?? {}) as Partial<StoryGeneration>;

const notWaiting = (story: Story) => () =>
  new HttpProblem(409, 'Conflict', 'The story is not waiting for its storyline to be reviewed', {
    storyStatus: story.status,
    stage: generationOf(story).stage ?? null,
  });

export function storyReviewRouter(deps: StoryGenerationDeps): Router {
  const { services, temporal, log } = deps;
  const { repos } = services;
  const router = Router();

  const waitingStory = async (req: Request): Promise<Story> => {
    const profile = await repos.profiles.getByClerkId(req.user!.userId);
    const story = await repos.stories.get(String(req.params.id));
    if (!story || !profile || story.userId !== profile.id) throw notFound('Story');
    const generation = generationOf(story);
    if (story.status !== 'generating' || generation.stage !== 'outline_review' || !generation.workflowId) {
      throw notWaiting(story)();
    }
    return story;
  };
  const handleOf = (story: Story) => temporal.workflow.getHandle(generationOf(story).workflowId!);
  const answerWith = (story: Story, review: ReviewOutline): Storyline => ({
    id: story.id,
    revision: generationOf(story).revision,
    awaitingReview: true,
    ...review,
  });

  router.get('/stories/:id/outline', async (req, res) => {
    const story = await waitingStory(req);
    res.json(answerWith(story, await heldOutline(handleOf(story), notWaiting(story))));
  });

  router.put('/stories/:id/outline', async (req, res) => {
    const story = await waitingStory(req);
    res.json(answerWith(story, await sendAnswer(handleOf(story), answerOf(req, 'edit'), notWaiting(story), log)));
  });

  router.post('/stories/:id/outline/revise', async (req, res) => {
    const story = await waitingStory(req);
    res.json(answerWith(story, await sendAnswer(handleOf(story), answerOf(req, 'revise'), notWaiting(story), log)));
  });

  router.post('/stories/:id/outline/approve', async (req, res) => {
    const story = await waitingStory(req);
    const review = await sendAnswer(handleOf(story), answerOf(req, 'approve'), notWaiting(story), log);
    res.json({ ...answerWith(story, review), awaitingReview: false } satisfies Storyline);
  });

  return router;
}
